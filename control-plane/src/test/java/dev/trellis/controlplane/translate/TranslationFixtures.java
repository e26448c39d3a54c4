package dev.trellis.controlplane.translate;

import dev.trellis.controlplane.model.HttpRoute;
import dev.trellis.controlplane.model.Mesh;
import dev.trellis.controlplane.model.MeshEgress;
import dev.trellis.controlplane.model.MeshHttp;
import dev.trellis.controlplane.model.MeshNode;
import dev.trellis.controlplane.model.MeshTelemetry;
import dev.trellis.controlplane.model.MtlsMode;
import dev.trellis.controlplane.model.ObjectRef;
import dev.trellis.controlplane.model.Service;
import dev.trellis.controlplane.model.ServicePort;
import dev.trellis.controlplane.model.ServicePort.AppProtocol;
import dev.trellis.controlplane.model.Workload;
import dev.trellis.mtls.identity.TrustDomain;
import java.util.List;
import java.util.Map;

/** Small mesh models for the per-class translation tables: built as values, no mesh file in between. */
final class TranslationFixtures {

  static final ServicePort HTTP_80 = new ServicePort("http", 80, 8080, AppProtocol.HTTP);
  static final ServicePort GRPC_9090 = new ServicePort("grpc", 9090, 9090, AppProtocol.GRPC);
  static final ServicePort TCP_5432 = new ServicePort("pg", 5432, 5432, AppProtocol.TCP);

  private TranslationFixtures() {}

  static Service service(String name, String vip, ServicePort... ports) {
    return new Service(name, "demo", vip, Map.of("app", name), List.of(ports));
  }

  static Workload workload(String name, String app, String node, String address) {
    return new Workload(name, "demo", app, node, address, Map.of("app", app), true, true, null);
  }

  static ObjectRef ref(String name) {
    return new ObjectRef("demo", name);
  }

  /** A mesh of {@code services} and {@code workloads} on nodes n1 (10.0.0.1) and n2 (10.0.0.2), trust domain example.org. */
  static Mesh mesh(List<Service> services, List<Workload> workloads, List<HttpRoute> routes) {
    return mesh(services, workloads, routes, MeshEgress.DEFAULTS, MeshHttp.DEFAULTS);
  }

  static Mesh mesh(List<Service> services, List<Workload> workloads, List<HttpRoute> routes, MeshEgress egress,
      MeshHttp http) {
    return new Mesh(TrustDomain.of("example.org"), "cluster.local", MtlsMode.STRICT,
        List.of(new MeshNode("n1", "10.0.0.1", "t1"), new MeshNode("n2", "10.0.0.2", "t2")), workloads, services,
        routes, List.of(), List.of(), MeshTelemetry.DEFAULTS, egress, http);
  }
}
