package dev.trellis.controlplane.discovery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.trellis.controlplane.model.Mesh;
import dev.trellis.controlplane.model.MtlsMode;
import dev.trellis.controlplane.model.Workload;
import dev.trellis.mtls.identity.TrustDomain;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRoute;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Against Fabric8's mock API server in CRUD mode (no real cluster can run here): the informers see objects
 * created, labeled and deleted through the ordinary client, and each change reaches the mesh.
 */
@EnableKubernetesMockClient(crud = true)
class KubernetesSourceTest {

  KubernetesClient client;
  final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
  final AtomicReference<Mesh> mesh = new AtomicReference<>();
  KubernetesSource source;

  @AfterEach
  void stop() {
    if (source != null) {
      source.close();
    }
    scheduler.shutdownNow();
  }

  Workload workload(String name) {
    Mesh m = mesh.get();
    return m == null ? null : m.workloads().stream().filter(w -> w.name().equals(name)).findFirst().orElse(null);
  }

  @Test
  void labelingAndUnlabelingANamespaceMovesItsPodsInAndOutOfTheMesh() {
    client.namespaces().resource(KubernetesMeshTest.namespace("demo", Map.of())).create();
    client.nodes().resource(KubernetesMeshTest.node("node-a", "10.0.0.5")).create();
    client.pods().inNamespace("demo").resource(KubernetesMeshTest.pod("demo", "web-0", "10.1.0.7", Map.of("app", "web")))
        .create();
    client.services().inNamespace("demo")
        .resource(KubernetesMeshTest.service("demo", "web", "10.96.0.10", Map.of("app", "web"))).create();

    source = new KubernetesSource(client, TrustDomain.CLUSTER_LOCAL, "cluster.local", MtlsMode.PERMISSIVE, scheduler,
        Duration.ofMillis(50), mesh::set).start();
    await().atMost(Duration.ofSeconds(10)).until(() -> workload("web-0") != null);
    assertThat(workload("web-0").inMesh()).as("namespace not labeled yet").isFalse();
    assertThat(mesh.get().services()).singleElement().satisfies(s -> assertThat(s.vip()).isEqualTo("10.96.0.10"));
    assertThat(source.synced()).isTrue();

    client.namespaces().withName("demo").edit(n -> {
      n.getMetadata().getLabels().put("trellis.dev/mesh", "enabled");
      return n;
    });
    await().atMost(Duration.ofSeconds(10)).until(() -> workload("web-0").inMesh());

    client.namespaces().withName("demo").edit(n -> {
      n.getMetadata().getLabels().remove("trellis.dev/mesh");
      return n;
    });
    await().atMost(Duration.ofSeconds(10)).until(() -> !workload("web-0").inMesh());

    client.pods().inNamespace("demo").withName("web-0").delete();
    await().atMost(Duration.ofSeconds(10)).until(() -> workload("web-0") == null);
  }

  int weightOf(String backend) {
    Mesh m = mesh.get();
    return m == null || m.routes().isEmpty() ? -1 : m.routes().getFirst().rules().getFirst().backends().stream()
        .filter(b -> b.service().name().equals(backend)).mapToInt(b -> b.weight()).findFirst().orElse(-1);
  }

  /** The conditions Trellis wrote on the route's Service parent, "" if none. */
  String conditions() {
    HTTPRoute r = client.resources(HTTPRoute.class).inNamespace("demo").withName("web-split").get();
    if (r == null || r.getStatus() == null || r.getStatus().getParents() == null) {
      return "";
    }
    return r.getStatus().getParents().stream().filter(p -> "trellis.dev/mesh".equals(p.getControllerName()))
        .map(RouteStatusTest::conditions).findFirst().orElse("");
  }

  @Test
  void anHttpRouteWeightChangeReachesTheMeshAndItsStatusIsWritten() {
    source = new KubernetesSource(client, TrustDomain.CLUSTER_LOCAL, "cluster.local", MtlsMode.PERMISSIVE, scheduler,
        Duration.ofMillis(50), mesh::set).start();
    client.resources(HTTPRoute.class).inNamespace("demo").resource(GatewayRoutesTest.split(80, 20)).create();
    await().atMost(Duration.ofSeconds(10)).until(() -> weightOf("web-v2") == 20);
    client.resources(HTTPRoute.class).inNamespace("demo").withName("web-split").edit(r -> {
      r.getSpec().getRules().getFirst().getBackendRefs().get(0).setWeight(50);
      r.getSpec().getRules().getFirst().getBackendRefs().get(1).setWeight(50);
      return r;
    });
    await().atMost(Duration.ofSeconds(10)).until(() -> weightOf("web-v2") == 50 && weightOf("web-v1") == 50);

    // Status, the Kubernetes way: the Service parent is missing, so not Accepted, backends not found.
    await().atMost(Duration.ofSeconds(10)).until(() -> conditions().contains("Accepted=False/NoMatchingParent"));
    for (String name : new String[] {"web", "web-v1", "web-v2"}) {
      client.services().inNamespace("demo").resource(KubernetesMeshTest.service("demo", name, "10.96.0." + name.length(),
          java.util.Map.of("app", name))).create();
    }
    await().atMost(Duration.ofSeconds(10))
        .until(() -> conditions().equals("Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs"));
    client.resources(HTTPRoute.class).inNamespace("demo").withName("web-split").delete();
    await().atMost(Duration.ofSeconds(10)).until(() -> mesh.get().routes().isEmpty());
  }

  @Test
  void aReplicaThatDoesNotHoldTheLeaseWritesNoStatus() {
    source = new KubernetesSource(client, new KubernetesSource.Settings(TrustDomain.CLUSTER_LOCAL, "cluster.local",
        MtlsMode.PERMISSIVE, "trellis-system", Duration.ofMillis(50)), scheduler, mesh::set, java.time.Clock.systemUTC(),
        () -> false).start();
    client.resources(HTTPRoute.class).inNamespace("demo").resource(GatewayRoutesTest.split(80, 20)).create();
    // Status is written before the mesh is handed on: once the route is in the mesh, a leader would have written it.
    await().atMost(Duration.ofSeconds(10)).until(() -> weightOf("web-v2") == 20);
    assertThat(conditions()).isEmpty();
  }
}
