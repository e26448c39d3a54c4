package dev.trellis.controlplane.discovery;

import dev.trellis.controlplane.config.PolicySpecs;
import dev.trellis.controlplane.model.AuthorizationPolicy;
import dev.trellis.controlplane.model.MtlsMode;
import dev.trellis.controlplane.model.ObjectRef;
import dev.trellis.controlplane.model.Service;
import dev.trellis.controlplane.model.TrafficPolicy;
import dev.trellis.controlplane.model.Workload;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Our CRDs ({@code mesh.trellis.dev/v1alpha1}) as parts of the mesh model, with a verdict per object that
 * becomes its {@code Accepted} condition. Pure. Rules a user can rely on:
 * <ul>
 *   <li>{@code TrafficPolicy}: {@code targetRef} names a Service (group "" ) in the policy's namespace; one policy
 *       per Service — when two target the same one the older wins and the other is {@code Conflicted};
 *   <li>{@code PeerAuthentication}: the most specific wins — a {@code selector} matching the pod, else one without
 *       selector in the pod's namespace, else one without selector in the control plane's namespace (mesh-wide),
 *       else the default; among equals the older wins and the others are {@code Conflicted};
 *   <li>{@code AuthorizationPolicy}: each valid one applies (deny before allow, as in local mode).
 * </ul>
 * An invalid spec never changes what is pushed: the object is left out and its condition says why.
 */
final class MeshPolicies {

  static final String TRAFFIC_POLICY = "TrafficPolicy";
  static final String PEER_AUTHENTICATION = "PeerAuthentication";
  static final String AUTHORIZATION_POLICY = "AuthorizationPolicy";

  /** The {@code Accepted} condition one object gets. */
  record Verdict(String kind, String namespace, String name, Long generation, boolean accepted, String reason,
      String message) {
    static Verdict accepted(GenericKubernetesResource r, String message) {
      return new Verdict(r.getKind(), r.getMetadata().getNamespace(), r.getMetadata().getName(),
          r.getMetadata().getGeneration(), true, "Accepted", message);
    }

    static Verdict rejected(GenericKubernetesResource r, String reason, String message) {
      return new Verdict(r.getKind(), r.getMetadata().getNamespace(), r.getMetadata().getName(),
          r.getMetadata().getGeneration(), false, reason, message);
    }
  }

  record Result(List<TrafficPolicy> trafficPolicies, List<AuthorizationPolicy> authorizations, MtlsMode defaultMtls,
      List<Workload> workloads, List<Verdict> verdicts) {}

  private MeshPolicies() {}

  static Result apply(String rootNamespace, MtlsMode defaultMtls, List<Workload> workloads, List<Service> services,
      List<GenericKubernetesResource> trafficPolicies, List<GenericKubernetesResource> peerAuthentications,
      List<GenericKubernetesResource> authorizationPolicies) {
    List<Verdict> verdicts = new ArrayList<>();
    List<TrafficPolicy> traffic = trafficPolicies(trafficPolicies, services, verdicts);
    List<AuthorizationPolicy> authz = new ArrayList<>();
    for (GenericKubernetesResource r : oldestFirst(authorizationPolicies)) {
      PolicySpecs.Parsed<AuthorizationPolicy> parsed = PolicySpecs.authorizationPolicy(r.getMetadata().getNamespace(),
          r.getMetadata().getName(), spec(r));
      if (parsed.valid()) {
        authz.add(parsed.value());
        verdicts.add(Verdict.accepted(r, "applied at the destination node proxies of the selected workloads"));
      } else {
        verdicts.add(Verdict.rejected(r, "Invalid", String.join("; ", parsed.problems())));
      }
    }
    authz.sort(Comparator.comparing(AuthorizationPolicy::namespace).thenComparing(AuthorizationPolicy::name));

    // PeerAuthentication: valid ones by scope; conflicts resolved oldest-first.
    MtlsMode meshWide = null;
    Map<String, MtlsMode> byNamespace = new HashMap<>();
    List<Map.Entry<Map<String, String>, GenericKubernetesResource>> selecting = new ArrayList<>();
    Map<GenericKubernetesResource, MtlsMode> modes = new LinkedHashMap<>();
    for (GenericKubernetesResource r : oldestFirst(peerAuthentications)) {
      Map<String, Object> spec = spec(r);
      Object selector = spec.get("selector");
      Map<String, String> matchLabels = Map.of();
      if (selector instanceof Map<?, ?> s && s.get("matchLabels") instanceof Map<?, ?> labels) {
        Map<String, String> m = new HashMap<>();
        labels.forEach((k, v) -> m.put(String.valueOf(k), String.valueOf(v)));
        matchLabels = m;
      }
      Optional<MtlsMode> mode = mtlsMode(spec);
      if (mode.isEmpty()) {
        verdicts.add(Verdict.rejected(r, "Invalid", "spec.mtls.mode: " + describe(spec)
            + " (expected: STRICT, PERMISSIVE or DISABLE)"));
        continue;
      }
      String ns = r.getMetadata().getNamespace();
      if (!matchLabels.isEmpty()) {
        selecting.add(Map.entry(matchLabels, r));
        modes.put(r, mode.get());
        verdicts.add(Verdict.accepted(r, "mTLS " + mode.get() + " for the pods its selector matches"));
      } else if (ns.equals(rootNamespace) && meshWide == null) {
        meshWide = mode.get();
        verdicts.add(Verdict.accepted(r, "mesh-wide default mTLS " + mode.get()));
      } else if (!ns.equals(rootNamespace) && !byNamespace.containsKey(ns)) {
        byNamespace.put(ns, mode.get());
        verdicts.add(Verdict.accepted(r, "mTLS " + mode.get() + " for namespace " + ns));
      } else {
        verdicts.add(Verdict.rejected(r, "Conflicted", "an older PeerAuthentication without selector already sets the "
            + (ns.equals(rootNamespace) ? "mesh-wide" : "namespace") + " mode; keep one per namespace"));
      }
    }
    List<Workload> withModes = new ArrayList<>(workloads.size());
    for (Workload w : workloads) {
      MtlsMode mode = null;
      for (var e : selecting) {
        if (e.getValue().getMetadata().getNamespace().equals(w.namespace()) && w.matches(e.getKey())) {
          mode = modes.get(e.getValue());
          break; // oldest first
        }
      }
      if (mode == null) {
        mode = byNamespace.get(w.namespace());
      }
      withModes.add(mode == null ? w : new Workload(w.name(), w.namespace(), w.serviceAccount(), w.node(), w.address(),
          w.labels(), w.inMesh(), w.ready(), mode));
    }
    return new Result(traffic, authz, meshWide == null ? defaultMtls : meshWide, withModes, verdicts);
  }

  private static List<TrafficPolicy> trafficPolicies(List<GenericKubernetesResource> objects, List<Service> services,
      List<Verdict> verdicts) {
    Map<ObjectRef, Service> byRef = new HashMap<>();
    services.forEach(s -> byRef.put(s.ref(), s));
    Map<ObjectRef, String> taken = new HashMap<>();
    List<TrafficPolicy> out = new ArrayList<>();
    for (GenericKubernetesResource r : oldestFirst(objects)) {
      String ns = r.getMetadata().getNamespace();
      Map<String, Object> spec = spec(r);
      if (!(spec.get("targetRef") instanceof Map<?, ?> target) || !(target.get("name") instanceof String targetName)) {
        verdicts.add(Verdict.rejected(r, "Invalid", "spec.targetRef.name is required (the Service this policy applies to)"));
        continue;
      }
      Object group = target.get("group");
      Object kind = target.get("kind");
      if ((group != null && !"".equals(group) && !"core".equals(group)) || (kind != null && !"Service".equals(kind))) {
        verdicts.add(Verdict.rejected(r, "Invalid", "spec.targetRef: " + (group == null ? "" : group + "/") + kind
            + " (expected: kind Service, group \"\")"));
        continue;
      }
      Service service = byRef.get(new ObjectRef(ns, targetName));
      if (service == null) {
        verdicts.add(Verdict.rejected(r, "TargetNotFound", "no Service " + ns + "/" + targetName + " with a cluster IP "
            + "and a selector; the policy applies once it exists"));
        continue;
      }
      PolicySpecs.Parsed<TrafficPolicy> parsed = PolicySpecs.trafficPolicy(ns, r.getMetadata().getName(), service, spec);
      if (!parsed.valid()) {
        verdicts.add(Verdict.rejected(r, "Invalid", String.join("; ", parsed.problems())));
        continue;
      }
      String older = taken.putIfAbsent(service.ref(), r.getMetadata().getName());
      if (older != null) {
        verdicts.add(Verdict.rejected(r, "Conflicted", "Service " + service.ref() + " already has TrafficPolicy " + older
            + " (older); one policy per Service"));
        continue;
      }
      out.add(parsed.value());
      verdicts.add(Verdict.accepted(r, "applies to Service " + service.ref()));
    }
    out.sort(Comparator.comparing(TrafficPolicy::namespace).thenComparing(TrafficPolicy::name));
    return out;
  }

  private static Optional<MtlsMode> mtlsMode(Map<String, Object> spec) {
    if (spec.get("mtls") instanceof Map<?, ?> m && m.get("mode") instanceof String s) {
      try {
        return Optional.of(MtlsMode.valueOf(s.strip().toUpperCase(Locale.ROOT)));
      } catch (IllegalArgumentException e) {
        return Optional.empty();
      }
    }
    return Optional.empty();
  }

  private static String describe(Map<String, Object> spec) {
    Object mtls = spec.get("mtls");
    Object mode = mtls instanceof Map<?, ?> m ? m.get("mode") : null;
    return mode == null ? "missing" : "'" + mode + "'";
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> spec(GenericKubernetesResource r) {
    Object spec = r.getAdditionalProperties().get("spec");
    return spec instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
  }

  /** Oldest first (creation time, then namespace and name): the order conflicts are settled in. */
  private static List<GenericKubernetesResource> oldestFirst(List<GenericKubernetesResource> objects) {
    List<GenericKubernetesResource> sorted = new ArrayList<>(objects);
    sorted.sort(Comparator.comparing((GenericKubernetesResource r) -> {
      String t = r.getMetadata().getCreationTimestamp();
      return t == null ? "" : t; // RFC 3339 in UTC: sorts as text
    }).thenComparing(r -> r.getMetadata().getNamespace()).thenComparing(r -> r.getMetadata().getName()));
    return sorted;
  }
}
