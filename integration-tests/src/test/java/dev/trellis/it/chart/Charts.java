package dev.trellis.it.chart;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.TemplateCommand;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/** The chart rendered and its objects looked up, for {@link HelmChartTest}. */
final class Charts {

  static final Path CHART = chartPath();
  static final String NAMESPACE = "trellis-system";

  private Charts() {}

  /** helm template with the given --set values, every object parsed strictly. */
  static List<HasMetadata> render(Map<String, String> values) {
    // helm's client-only default (v1.20) is below the chart's kubeVersion.
    return render("1.31.0", values);
  }

  /** helm template for a cluster of the given Kubernetes version. */
  static List<HasMetadata> render(String kubeVersion, Map<String, String> values) {
    TemplateCommand template = new Helm(CHART).template().withName("trellis").withNamespace(NAMESPACE)
        .withKubeVersion(kubeVersion);
    for (var value : values.entrySet()) {
      template = template.set(value.getKey(), value.getValue());
    }
    return Manifests.parse(template.call());
  }

  /** The CRDs of crds/, by name, each parsed strictly. */
  static Map<String, CustomResourceDefinition> crds() throws IOException {
    try (var files = Files.list(CHART.resolve("crds"))) {
      return files.filter(f -> f.toString().endsWith(".yaml")).map(f -> {
        try {
          return (CustomResourceDefinition) only(Manifests.parse(Files.readString(f)));
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }).collect(Collectors.toMap(c -> c.getMetadata().getName(), c -> c));
    }
  }

  static JSONSchemaProps schema(CustomResourceDefinition crd) {
    return only(crd.getSpec().getVersions()).getSchema().getOpenAPIV3Schema();
  }

  /** The schema of a nested property, failing with the path when it is missing. */
  static JSONSchemaProps property(JSONSchemaProps schema, String... path) {
    JSONSchemaProps current = schema;
    for (String name : path) {
      assertThat(current.getProperties()).as(String.join(".", path)).containsKey(name);
      current = current.getProperties().get(name);
    }
    return current;
  }

  /** Dotted paths of the schema's properties, descending only into our own objects (inline properties). */
  static void collectSchemaKeys(JsonNode schema, String prefix, List<String> keys, List<String> leaves) {
    schema.path("properties").properties().forEach(e -> {
      String key = prefix + e.getKey();
      keys.add(key);
      if (e.getValue().has("properties")) {
        collectSchemaKeys(e.getValue(), key + ".", keys, leaves);
      } else {
        leaves.add(key);
      }
    });
  }

  /** The dotted path of every mapping key in a block-style YAML file, with its 0-based line. */
  static Map<String, Integer> keyLines(List<String> lines) {
    Map<String, Integer> keys = new HashMap<>();
    List<Map.Entry<Integer, String>> stack = new ArrayList<>();
    var key = Pattern.compile("^( *)([A-Za-z][\\w.-]*):");
    for (int i = 0; i < lines.size(); i++) {
      var m = key.matcher(lines.get(i));
      if (!m.find()) {
        continue;
      }
      int indent = m.group(1).length();
      stack.removeIf(e -> e.getKey() >= indent);
      stack.add(Map.entry(indent, m.group(2)));
      keys.putIfAbsent(stack.stream().map(Map.Entry::getValue).collect(Collectors.joining(".")), i);
    }
    return keys;
  }

  static <T extends HasMetadata> T find(List<HasMetadata> objects, Class<T> type, String name) {
    List<T> found = objects.stream().filter(type::isInstance).map(type::cast)
        .filter(o -> o.getMetadata().getName().equals(name)).toList();
    assertThat(found).as("%s %s", type.getSimpleName(), name).hasSize(1);
    return found.getFirst();
  }

  /**
   * A rule as "group/resource verbs" per resource, or "group/resource[name,...] verbs" when it names its objects,
   * verbs sorted, so a list compares regardless of grouping.
   */
  static List<String> rules(List<PolicyRule> rules) {
    return rules.stream().flatMap(r -> {
      assertThat(r.getApiGroups()).hasSize(1);
      String names = r.getResourceNames() == null || r.getResourceNames().isEmpty() ? ""
          : "[" + String.join(",", r.getResourceNames()) + "]";
      String verbs = r.getVerbs().stream().sorted().collect(Collectors.joining(","));
      return r.getResources().stream().map(res -> r.getApiGroups().getFirst() + "/" + res + names + " " + verbs);
    }).toList();
  }

  /** The pod templates of the workloads (the Deployment and the DaemonSet). */
  static List<PodSpec> pods(List<HasMetadata> objects) {
    List<PodSpec> pods = new ArrayList<>();
    for (HasMetadata o : objects) {
      if (o instanceof Deployment d) {
        pods.add(d.getSpec().getTemplate().getSpec());
      } else if (o instanceof DaemonSet d) {
        pods.add(d.getSpec().getTemplate().getSpec());
      }
    }
    assertThat(pods).hasSize(2);
    return pods;
  }

  /** Every container of every workload. */
  static List<Container> containers(List<HasMetadata> objects) {
    return pods(objects).stream().flatMap(p -> p.getContainers().stream()).toList();
  }

  static Container container(PodSpec pod, String name) {
    return pod.getContainers().stream().filter(c -> c.getName().equals(name)).findFirst()
        .orElseThrow(() -> new AssertionError("no container " + name));
  }

  static Volume volume(PodSpec pod, String name) {
    return pod.getVolumes().stream().filter(v -> v.getName().equals(name)).findFirst()
        .orElseThrow(() -> new AssertionError("no volume " + name));
  }

  static VolumeMount mount(Container container, String name) {
    return container.getVolumeMounts().stream().filter(m -> m.getName().equals(name)).findFirst()
        .orElseThrow(() -> new AssertionError("no mount " + name + " in " + container.getName()));
  }

  static Map<String, String> hostPaths(PodSpec pod) {
    return pod.getVolumes().stream().filter(v -> v.getHostPath() != null)
        .collect(Collectors.toMap(Volume::getName, v -> v.getHostPath().getPath()));
  }

  static Map<String, String> mounts(Container container) {
    return container.getVolumeMounts().stream().collect(Collectors.toMap(VolumeMount::getName, VolumeMount::getMountPath));
  }

  static <T> T only(List<T> items) {
    assertThat(items).hasSize(1);
    return items.getFirst();
  }

  private static Path chartPath() {
    // Surefire runs in the module folder; the chart is at the repository root.
    for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
      Path chart = dir.resolve("charts/trellis");
      if (Files.isRegularFile(chart.resolve("Chart.yaml"))) {
        return chart;
      }
    }
    throw new IllegalStateException("charts/trellis/Chart.yaml not found above " + Path.of("").toAbsolutePath());
  }
}
