package dev.trellis.controlplane.discovery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.trellis.controlplane.model.Mesh;
import dev.trellis.controlplane.model.MtlsMode;
import dev.trellis.mtls.identity.TrustDomain;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRoute;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.CustomResourceDefinitionContext;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * {@code examples/kubernetes/demo.yaml}, applied to Fabric8's mock API server in CRUD mode (no real cluster runs
 * here; the mock runs no controllers, so the Deployments' pods and the Services' cluster IPs come from the test): every object parses into
 * its typed model, and every route and policy in it is accepted and reaches the mesh — the example users copy
 * cannot rot.
 */
@EnableKubernetesMockClient(crud = true)
class KubernetesExampleTest {

  KubernetesClient client;
  KubernetesMockServer server;

  @Test
  void theShippedExampleIsAcceptedWhole() throws Exception {
    KubernetesSource.POLICY_KINDS.values().forEach(ctx -> server.expectCustomResource(new CustomResourceDefinitionContext
        .Builder().withGroup(ctx.getGroup()).withVersion(ctx.getVersion()).withKind(ctx.getKind())
        .withPlural(ctx.getPlural()).withScope("Namespaced").build()));
    List<HasMetadata> objects;
    try (InputStream in = Files.newInputStream(Path.of("..", "examples", "kubernetes", "demo.yaml"))) {
      objects = client.load(in).items();
    }
    assertThat(objects).extracting(HasMetadata::getKind).containsExactly("Namespace", "ServiceAccount", "Deployment",
        "Deployment", "Service", "Service", "Service", "HTTPRoute", "TrafficPolicy", "PeerAuthentication",
        "AuthorizationPolicy");
    int vip = 10;
    for (HasMetadata o : objects) {
      if (o instanceof io.fabric8.kubernetes.api.model.Service svc) {
        svc.getSpec().setClusterIP("10.96.0." + vip++); // the API server allocates it; the mock does not
      }
      if (o instanceof GenericKubernetesResource g) {
        client.genericKubernetesResources(KubernetesSource.POLICY_KINDS.get(g.getKind()))
            .inNamespace(g.getMetadata().getNamespace()).resource(g).create();
      } else {
        client.resource(o).create();
      }
    }
    client.nodes().resource(KubernetesMeshTest.node("node-a", "10.0.0.5")).create();
    int ip = 10;
    for (String version : new String[] {"v1", "v1", "v2"}) {
      var pod = KubernetesMeshTest.pod("demo", "greeter-" + version + "-" + ip, "10.1.0." + ip,
          Map.of("app", "greeter", "version", version));
      pod.getSpec().setServiceAccountName("greeter");
      pod.getSpec().getContainers().getFirst().getPorts().getFirst().setName("http");
      pod.getSpec().getContainers().getFirst().getPorts().getFirst().setContainerPort(8080);
      client.pods().inNamespace("demo").resource(pod).create();
      ip++;
    }
    ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    AtomicReference<Mesh> mesh = new AtomicReference<>();
    try (KubernetesSource source = new KubernetesSource(client, new KubernetesSource.Settings(TrustDomain.CLUSTER_LOCAL,
        "cluster.local", MtlsMode.PERMISSIVE, "trellis-system", Duration.ofMillis(50)), scheduler, mesh::set,
        Clock.systemUTC(), () -> true).start()) {
      await().atMost(Duration.ofSeconds(15)).until(() -> mesh.get() != null && mesh.get().workloads().size() == 3
          && !mesh.get().routes().isEmpty() && !mesh.get().policies().isEmpty()
          && !mesh.get().authorizations().isEmpty());
      Mesh m = mesh.get();
      assertThat(m.workloads()).allSatisfy(w -> {
        assertThat(w.inMesh()).isTrue();
        assertThat(w.mtls()).isEqualTo(MtlsMode.STRICT);
      });
      assertThat(m.routes().getFirst().rules().getFirst().backends()).extracting(b -> b.weight()).containsExactly(90, 10);
      assertThat(m.services()).filteredOn(s -> s.name().equals("greeter")).singleElement()
          .satisfies(s -> assertThat(s.ports().getFirst().targetPort()).as("named targetPort").isEqualTo(8080));
      for (String kind : KubernetesSource.POLICY_KINDS.keySet()) {
        await().atMost(Duration.ofSeconds(10)).until(() -> client.genericKubernetesResources(
                KubernetesSource.POLICY_KINDS.get(kind)).inNamespace("demo").list().getItems().stream()
            .allMatch(r -> String.valueOf(r.getAdditionalProperties().get("status")).contains("status=True")));
      }
      await().atMost(Duration.ofSeconds(10)).until(() -> {
        HTTPRoute r = client.resources(HTTPRoute.class).inNamespace("demo").withName("greeter-canary").get();
        return r.getStatus() != null && r.getStatus().getParents() != null && r.getStatus().getParents().stream()
            .anyMatch(p -> RouteStatusTest.conditions(p).equals("Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs"));
      });
    } finally {
      scheduler.shutdownNow();
    }
  }
}
