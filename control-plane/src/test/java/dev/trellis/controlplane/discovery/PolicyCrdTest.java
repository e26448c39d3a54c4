package dev.trellis.controlplane.discovery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.trellis.controlplane.model.AuthorizationPolicy;
import dev.trellis.controlplane.model.Mesh;
import dev.trellis.controlplane.model.MtlsMode;
import dev.trellis.controlplane.model.TrafficPolicy;
import dev.trellis.controlplane.model.Workload;
import dev.trellis.mtls.identity.TrustDomain;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Our CRDs against Fabric8's mock API server in CRUD mode (no real cluster can run here): created, edited and
 * deleted through the ordinary client, they reach the mesh, and each gets an {@code Accepted} condition that
 * explains a rejection with the field at fault.
 */
@EnableKubernetesMockClient(crud = true)
class PolicyCrdTest {

  KubernetesClient client;
  KubernetesMockServer server;
  final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
  final AtomicReference<Mesh> mesh = new AtomicReference<>();
  KubernetesSource source;

  @BeforeEach
  void cluster() {
    KubernetesSource.POLICY_KINDS.values().forEach(ctx -> server.expectCustomResource(
        new io.fabric8.kubernetes.client.dsl.base.CustomResourceDefinitionContext.Builder().withGroup(ctx.getGroup())
            .withVersion(ctx.getVersion()).withKind(ctx.getKind()).withPlural(ctx.getPlural()).withScope("Namespaced")
            .build()));
    client.namespaces().resource(KubernetesMeshTest.namespace("demo", Map.of("trellis.dev/mesh", "enabled"))).create();
    client.namespaces().resource(KubernetesMeshTest.namespace("trellis-system", Map.of())).create();
    client.nodes().resource(KubernetesMeshTest.node("node-a", "10.0.0.5")).create();
    client.pods().inNamespace("demo").resource(KubernetesMeshTest.pod("demo", "web-0", "10.1.0.7", Map.of("app", "web")))
        .create();
    client.pods().inNamespace("demo").resource(KubernetesMeshTest.pod("demo", "db-0", "10.1.0.8", Map.of("app", "db")))
        .create();
    client.services().inNamespace("demo")
        .resource(KubernetesMeshTest.service("demo", "web", "10.96.0.10", Map.of("app", "web"))).create();
    source = new KubernetesSource(client, new KubernetesSource.Settings(TrustDomain.CLUSTER_LOCAL, "cluster.local",
        MtlsMode.PERMISSIVE, "trellis-system", Duration.ofMillis(50)), scheduler, mesh::set, Clock.systemUTC(),
        () -> true).start();
    await().atMost(Duration.ofSeconds(10)).until(() -> mesh.get() != null);
  }

  @AfterEach
  void stop() {
    if (source != null) {
      source.close();
    }
    scheduler.shutdownNow();
  }

  static GenericKubernetesResource object(String kind, String namespace, String name, Map<String, Object> spec) {
    return new GenericKubernetesResourceBuilder().withApiVersion("mesh.trellis.dev/v1alpha1").withKind(kind)
        .withNewMetadata().withNamespace(namespace).withName(name).endMetadata()
        .addToAdditionalProperties("spec", spec).build();
  }

  void create(GenericKubernetesResource r) {
    client.genericKubernetesResources(KubernetesSource.POLICY_KINDS.get(r.getKind()))
        .inNamespace(r.getMetadata().getNamespace()).resource(r).create();
  }

  /** "status/reason: message" of the object's Accepted condition, "" while it has none. */
  String accepted(String kind, String namespace, String name) {
    GenericKubernetesResource r = client.genericKubernetesResources(KubernetesSource.POLICY_KINDS.get(kind))
        .inNamespace(namespace).withName(name).get();
    if (r == null || !(r.getAdditionalProperties().get("status") instanceof Map<?, ?> status)) {
      return "";
    }
    return ((List<?>) status.get("conditions")).stream().map(c -> (Map<?, ?>) c)
        .filter(c -> "Accepted".equals(c.get("type")))
        .map(c -> c.get("status") + "/" + c.get("reason") + ": " + c.get("message")).findFirst().orElse("");
  }

  TrafficPolicy policyOf(String service) {
    return mesh.get().policies().stream().filter(p -> p.service().name().equals(service)).findFirst().orElse(null);
  }

  Workload workload(String name) {
    return mesh.get().workloads().stream().filter(w -> w.name().equals(name)).findFirst().orElseThrow();
  }

  @Test
  void aTrafficPolicyReachesTheMeshAndAnInvalidEditIsExplainedInItsStatus() {
    create(object("TrafficPolicy", "demo", "web-limits", Map.of(
        "targetRef", Map.of("group", "", "kind", "Service", "name", "web"),
        "connectionPool", Map.of("maxRequests", 64, "maxPendingRequests", 8),
        "outlierDetection", Map.of("consecutive5xx", 3, "baseEjectionTime", "30s"),
        "loadBalancer", Map.of("algorithm", "least-request"))));
    await().atMost(Duration.ofSeconds(10)).until(() -> policyOf("web") != null);
    TrafficPolicy p = policyOf("web");
    assertThat(p.connectionPool().maxRequests()).isEqualTo(64);
    assertThat(p.connectionPool().maxPendingRequests()).isEqualTo(8);
    assertThat(p.outlierDetection().baseEjectionTime()).isEqualTo(Duration.ofSeconds(30));
    assertThat(p.loadBalancer().algorithm()).isEqualTo(TrafficPolicy.Algorithm.LEAST_REQUEST);
    await().atMost(Duration.ofSeconds(10)).until(() -> accepted("TrafficPolicy", "demo", "web-limits")
        .equals("True/Accepted: applies to Service demo/web"));

    client.genericKubernetesResources(KubernetesSource.POLICY_KINDS.get("TrafficPolicy")).inNamespace("demo")
        .withName("web-limits").edit(r -> {
          @SuppressWarnings("unchecked")
          Map<String, Object> spec = (Map<String, Object>) r.getAdditionalProperties().get("spec");
          spec.put("connectionPool", Map.of("maxRequests", 0));
          return r;
        });
    await().atMost(Duration.ofSeconds(10)).until(() -> accepted("TrafficPolicy", "demo", "web-limits")
        .startsWith("False/Invalid: "));
    assertThat(accepted("TrafficPolicy", "demo", "web-limits")).contains("spec.connectionPool.maxRequests");
    await().atMost(Duration.ofSeconds(10)).until(() -> policyOf("web") == null);
  }

  @Test
  void aPolicyForAMissingServiceOrASecondPolicyForTheSameServiceIsNotAccepted() {
    create(object("TrafficPolicy", "demo", "ghost", Map.of("targetRef", Map.of("kind", "Service", "name", "nope"),
        "connectionPool", Map.of("maxConnections", 5))));
    await().atMost(Duration.ofSeconds(10)).until(() -> accepted("TrafficPolicy", "demo", "ghost")
        .startsWith("False/TargetNotFound: no Service demo/nope"));
    create(object("TrafficPolicy", "demo", "first", Map.of("targetRef", Map.of("kind", "Service", "name", "web"),
        "connectionPool", Map.of("maxConnections", 5))));
    await().atMost(Duration.ofSeconds(10)).until(() -> accepted("TrafficPolicy", "demo", "first").startsWith("True/"));
    create(object("TrafficPolicy", "demo", "second", Map.of("targetRef", Map.of("kind", "Service", "name", "web"),
        "connectionPool", Map.of("maxConnections", 9))));
    await().atMost(Duration.ofSeconds(10)).until(() -> accepted("TrafficPolicy", "demo", "second")
        .startsWith("False/Conflicted: "));
    assertThat(policyOf("web").connectionPool().maxConnections()).isEqualTo(5);
    assertThat(mesh.get().policies()).hasSize(1);
  }

  @Test
  void peerAuthenticationSetsModesFromMeshWideToNamespaceToSelectedPods() {
    create(object("PeerAuthentication", "trellis-system", "mesh-default", Map.of("mtls", Map.of("mode", "STRICT"))));
    await().atMost(Duration.ofSeconds(10)).until(() -> mesh.get().defaultMtls() == MtlsMode.STRICT);
    assertThat(workload("web-0").mtls()).as("no namespace or pod policy: the mesh default applies").isNull();

    create(object("PeerAuthentication", "demo", "demo-default", Map.of("mtls", Map.of("mode", "PERMISSIVE"))));
    await().atMost(Duration.ofSeconds(10)).until(() -> workload("web-0").mtls() == MtlsMode.PERMISSIVE);
    create(object("PeerAuthentication", "demo", "db-strict", Map.of("selector", Map.of("matchLabels",
        Map.of("app", "db")), "mtls", Map.of("mode", "STRICT"))));
    await().atMost(Duration.ofSeconds(10)).until(() -> workload("db-0").mtls() == MtlsMode.STRICT);
    assertThat(workload("web-0").mtls()).isEqualTo(MtlsMode.PERMISSIVE);

    create(object("PeerAuthentication", "demo", "typo", Map.of("mtls", Map.of("mode", "STRICTEST"))));
    await().atMost(Duration.ofSeconds(10)).until(() -> accepted("PeerAuthentication", "demo", "typo")
        .equals("False/Invalid: spec.mtls.mode: 'STRICTEST' (expected: STRICT, PERMISSIVE or DISABLE)"));
    assertThat(accepted("PeerAuthentication", "demo", "db-strict")).startsWith("True/Accepted");
  }

  @Test
  void anAuthorizationPolicyReachesTheMeshAndABadRuleIsExplained() {
    create(object("AuthorizationPolicy", "demo", "web-callers", Map.of(
        "selector", Map.of("matchLabels", Map.of("app", "web")),
        "action", "ALLOW",
        "rules", List.of(Map.of("from", List.of("spiffe://cluster.local/ns/demo/sa/frontend", "ns/ops"),
            "ports", List.of(8080), "methods", List.of("GET"), "paths", List.of("/api/*"))))));
    await().atMost(Duration.ofSeconds(10)).until(() -> !mesh.get().authorizations().isEmpty());
    AuthorizationPolicy a = mesh.get().authorizations().getFirst();
    assertThat(a.selector()).isEqualTo(Map.of("app", "web"));
    assertThat(a.action()).isEqualTo(AuthorizationPolicy.Action.ALLOW);
    assertThat(a.rules()).singleElement().satisfies(r -> {
      assertThat(r.from()).containsExactly("spiffe://cluster.local/ns/demo/sa/frontend", "ns/ops");
      assertThat(r.ports()).containsExactly(8080);
      assertThat(r.paths()).containsExactly("/api/*");
    });

    create(object("AuthorizationPolicy", "demo", "bad", Map.of("action", "DENY",
        "rules", List.of(Map.of("paths", List.of("api/*")), Map.of("from", List.of("someone")),
            Map.of("paths", List.of("/a/../admin"))))));
    await().atMost(Duration.ofSeconds(10)).until(() -> accepted("AuthorizationPolicy", "demo", "bad")
        .startsWith("False/Invalid: "));
    assertThat(accepted("AuthorizationPolicy", "demo", "bad"))
        .contains("spec.rules[0].paths: path 'api/*' must start with '/'")
        .contains("spec.rules[1].from: 'someone' is neither ns/<namespace> nor a SPIFFE ID")
        .contains("spec.rules[2].paths: path '/a/../admin' has a dot segment ('..')");
    assertThat(mesh.get().authorizations()).extracting(AuthorizationPolicy::name).containsExactly("web-callers");
  }
}
