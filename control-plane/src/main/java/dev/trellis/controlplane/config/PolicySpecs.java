package dev.trellis.controlplane.config;

import dev.trellis.controlplane.model.AuthorizationPolicy;
import dev.trellis.controlplane.model.ObjectRef;
import dev.trellis.controlplane.model.Service;
import dev.trellis.controlplane.model.TrafficPolicy;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.snakeyaml.engine.v2.api.DumpSettings;
import org.snakeyaml.engine.v2.representer.StandardRepresenter;

/**
 * The {@code spec} of our CRDs ({@code mesh.trellis.dev/v1alpha1} TrafficPolicy and AuthorizationPolicy) read
 * with the mesh file's own rules, so a cluster and a mesh file accept exactly the same settings and explain a
 * bad one the same way; problems name the field under {@code spec} (e.g.
 * {@code spec.connectionPool.maxRequests: 0 is out of range [1, 2147483647]}).
 */
public final class PolicySpecs {

  /** A parsed spec: the value, or null with the problems that prevented it. */
  public record Parsed<T>(T value, List<String> problems) {
    public Parsed {
      problems = List.copyOf(problems);
    }

    public boolean valid() {
      return value != null && problems.isEmpty();
    }
  }

  private PolicySpecs() {}

  /**
   * A TrafficPolicy's spec; {@code target} is the Service its {@code targetRef} names (the caller resolved it).
   * {@code spec} is the object as the API server holds it (maps, lists, strings, numbers).
   */
  public static Parsed<TrafficPolicy> trafficPolicy(String namespace, String name, Service target,
      Map<String, Object> spec) {
    Map<String, Object> item = new LinkedHashMap<>(spec);
    item.remove("targetRef");
    item.put("name", name);
    item.put("namespace", namespace);
    item.put("service", target.namespace() + "/" + target.name());
    String label = "TrafficPolicy " + namespace + "/" + name;
    YamlValue.Problems problems = new YamlValue.Problems();
    MeshFile.Parser<Void> parser = parser(item, label, problems);
    parser.services.put(new ObjectRef(target.namespace(), target.name()), target);
    List<TrafficPolicy> out = new TrafficSections(parser).policies(List.of(parser.root));
    return result(out, problems, label);
  }

  /** An AuthorizationPolicy's spec: {@code selector.matchLabels}, {@code action}, {@code rules}. */
  public static Parsed<AuthorizationPolicy> authorizationPolicy(String namespace, String name,
      Map<String, Object> spec) {
    Map<String, Object> item = new LinkedHashMap<>(spec);
    Object selector = item.remove("selector");
    if (selector instanceof Map<?, ?> s) {
      Object labels = s.get("matchLabels");
      item.put("selector", labels == null ? Map.of() : labels);
    } else if (selector != null) {
      item.put("selector", selector); // reported as not a mapping of labels
    }
    item.put("name", name);
    item.put("namespace", namespace);
    String label = "AuthorizationPolicy " + namespace + "/" + name;
    YamlValue.Problems problems = new YamlValue.Problems();
    MeshFile.Parser<Void> parser = parser(item, label, problems);
    List<AuthorizationPolicy> out = new TrafficSections(parser).authorizations(List.of(parser.root));
    return result(out, problems, label);
  }

  private static MeshFile.Parser<Void> parser(Map<String, Object> item, String label, YamlValue.Problems problems) {
    var node = new StandardRepresenter(DumpSettings.builder().build()).represent(item);
    return new MeshFile.Parser<>(new YamlValue(node, "spec", label, problems), problems, null, MeshFile.IGNORE_RUN);
  }

  /** The object is named by its status already: problems say only the field and what is wrong. */
  private static <T> Parsed<T> result(List<T> out, YamlValue.Problems problems, String label) {
    if (!problems.isEmpty() || out.isEmpty()) {
      return new Parsed<>(null, problems.isEmpty() ? List.of("the spec could not be read")
          : problems.messages().stream().map(m -> m.startsWith(label + ": ") ? m.substring(label.length() + 2) : m)
              .toList());
    }
    return new Parsed<>(out.getFirst(), List.of());
  }
}
