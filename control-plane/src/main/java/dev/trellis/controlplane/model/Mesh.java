package dev.trellis.controlplane.model;

import dev.trellis.mtls.identity.TrustDomain;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The whole mesh as users describe it: the same model whether it comes from a local mesh file or
 * from Kubernetes. Validated on construction of its parts; cross-references are checked by the
 * config source that builds it (it knows where each part came from).
 *
 * @param clusterDomain DNS suffix of service names, e.g. {@code cluster.local} in {@code greeter.demo.svc.cluster.local}
 * @param defaultMtls mTLS mode of workloads that do not set one
 * @param telemetry what node proxies record (the mesh file's {@code telemetry} section; in a cluster the chart's
 *     values decide, and this is the default)
 * @param egress what captured pods may reach by passthrough beyond the defaults
 * @param http how request paths are normalized (the mesh file's {@code http} section; the defaults in a cluster)
 */
public record Mesh(TrustDomain trustDomain, String clusterDomain, MtlsMode defaultMtls, List<MeshNode> nodes,
    List<Workload> workloads, List<Service> services, List<HttpRoute> routes, List<TrafficPolicy> policies,
    List<AuthorizationPolicy> authorizations, MeshTelemetry telemetry, MeshEgress egress, MeshHttp http) {

  /** A mesh with the default path normalization. */
  public Mesh(TrustDomain trustDomain, String clusterDomain, MtlsMode defaultMtls, List<MeshNode> nodes,
      List<Workload> workloads, List<Service> services, List<HttpRoute> routes, List<TrafficPolicy> policies,
      List<AuthorizationPolicy> authorizations, MeshTelemetry telemetry, MeshEgress egress) {
    this(trustDomain, clusterDomain, defaultMtls, nodes, workloads, services, routes, policies, authorizations,
        telemetry, egress, MeshHttp.DEFAULTS);
  }

  /** A mesh with default egress settings. */
  public Mesh(TrustDomain trustDomain, String clusterDomain, MtlsMode defaultMtls, List<MeshNode> nodes,
      List<Workload> workloads, List<Service> services, List<HttpRoute> routes, List<TrafficPolicy> policies,
      List<AuthorizationPolicy> authorizations, MeshTelemetry telemetry, MeshHttp http) {
    this(trustDomain, clusterDomain, defaultMtls, nodes, workloads, services, routes, policies, authorizations,
        telemetry, MeshEgress.DEFAULTS, http);
  }

  /** A mesh with default egress and path normalization settings. */
  public Mesh(TrustDomain trustDomain, String clusterDomain, MtlsMode defaultMtls, List<MeshNode> nodes,
      List<Workload> workloads, List<Service> services, List<HttpRoute> routes, List<TrafficPolicy> policies,
      List<AuthorizationPolicy> authorizations, MeshTelemetry telemetry) {
    this(trustDomain, clusterDomain, defaultMtls, nodes, workloads, services, routes, policies, authorizations,
        telemetry, MeshEgress.DEFAULTS, MeshHttp.DEFAULTS);
  }

  /** A mesh with default telemetry settings. */
  public Mesh(TrustDomain trustDomain, String clusterDomain, MtlsMode defaultMtls, List<MeshNode> nodes,
      List<Workload> workloads, List<Service> services, List<HttpRoute> routes, List<TrafficPolicy> policies,
      List<AuthorizationPolicy> authorizations) {
    this(trustDomain, clusterDomain, defaultMtls, nodes, workloads, services, routes, policies, authorizations,
        MeshTelemetry.DEFAULTS);
  }

  public Mesh {
    Objects.requireNonNull(telemetry, "telemetry");
    Objects.requireNonNull(egress, "egress");
    Objects.requireNonNull(http, "http");
    nodes = List.copyOf(nodes);
    workloads = List.copyOf(workloads);
    services = List.copyOf(services);
    routes = List.copyOf(routes);
    policies = List.copyOf(policies);
    authorizations = List.copyOf(authorizations);
  }

  /** The same mesh with {@code settings} for egress (cluster mode: from the control plane's flags). */
  public Mesh withEgress(MeshEgress settings) {
    return new Mesh(trustDomain, clusterDomain, defaultMtls, nodes, workloads, services, routes, policies,
        authorizations, telemetry, settings, http);
  }

  public Optional<Service> service(ObjectRef ref) {
    return services.stream().filter(s -> s.ref().equals(ref)).findFirst();
  }

  public Optional<MeshNode> node(String name) {
    return nodes.stream().filter(n -> n.name().equals(name)).findFirst();
  }

  /** Fully-qualified DNS name of a service: {@code <name>.<namespace>.svc.<clusterDomain>}. */
  public String fqdn(Service service) {
    return service.name() + "." + service.namespace() + ".svc." + clusterDomain;
  }
}
