package dev.trellis.controlplane.server;

import static dev.trellis.xds.resource.ResourceType.CLUSTER;
import static dev.trellis.xds.resource.ResourceType.WORKLOAD;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.Message;
import dev.trellis.ca.client.BearerTokenCredentials;
import dev.trellis.ca.client.CaClient;
import dev.trellis.ca.server.BearerAuthInterceptor;
import dev.trellis.controlplane.cluster.Leadership;
import dev.trellis.controlplane.discovery.KubernetesMeshTest;
import dev.trellis.controlplane.model.MtlsMode;
import dev.trellis.controlplane.server.ControlPlaneTest.Latest;
import dev.trellis.controlplane.testing.FakeJwt;
import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.svid.IssuedSvid;
import dev.trellis.telemetry.metrics.PrometheusFamilies;
import dev.trellis.xds.client.AdsClient;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenReview;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.dsl.base.CustomResourceDefinitionContext;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The control plane in cluster mode against Fabric8's mock API server in CRUD mode (no real cluster can run here;
 * TokenReview is answered by an expectation playing the API server's authenticator): the mesh comes from the
 * cluster's objects and follows their changes into xDS; the CA signs only for a trusted node proxy's own node;
 * its root is a Secret; the leader publishes the trust bundle into enrolled namespaces.
 */
@EnableKubernetesMockClient(crud = true)
class ClusterModeTest {

  static final String NODE_PROXY_SA = "system:serviceaccount:trellis-system:trellis-node-proxy";

  KubernetesMockServer server;
  KubernetesClient client;
  ControlPlane cp;
  ManagedChannel channel;
  String proxyUid;
  final ScheduledExecutorService clientExecutor = Executors.newSingleThreadScheduledExecutor();

  TokenReview review(String token) {
    TokenReviewBuilder b = new TokenReviewBuilder().withNewSpec().withToken(token).endSpec();
    return switch (FakeJwt.name(token)) {
      case "proxy-a" -> bound(b, NODE_PROXY_SA, "node-proxy-a", proxyUid);
      case "proxy-a-stale" -> bound(b, NODE_PROXY_SA, "node-proxy-a", "uid-of-a-deleted-pod");
      case "web-app" -> bound(b, "system:serviceaccount:demo:web", "web-0", "whatever");
      default -> b.withNewStatus().withAuthenticated(false).withError("invalid bearer token").endStatus().build();
    };
  }

  static TokenReview bound(TokenReviewBuilder b, String user, String pod, String uid) {
    return b.withNewStatus().withAuthenticated(true).withAudiences("trellis-ca").withNewUser().withUsername(user)
        .withExtra(Map.of("authentication.kubernetes.io/pod-name", List.of(pod),
            "authentication.kubernetes.io/pod-uid", List.of(uid)))
        .endUser().endStatus().build();
  }

  static final ResourceDefinitionContext TRAFFIC_POLICY = new ResourceDefinitionContext.Builder()
      .withGroup("mesh.trellis.dev").withVersion("v1alpha1").withKind("TrafficPolicy").withPlural("trafficpolicies")
      .withNamespaced(true).build();

  @BeforeEach
  void start() throws Exception {
    server.expect().post().withPath("/apis/authentication.k8s.io/v1/tokenreviews")
        .andReply(201, request -> review(Serialization.unmarshal(request.getBody().readUtf8(), TokenReview.class)
            .getSpec().getToken()))
        .always();
    server.expectCustomResource(new CustomResourceDefinitionContext.Builder().withGroup("mesh.trellis.dev")
        .withVersion("v1alpha1").withKind("TrafficPolicy").withPlural("trafficpolicies").withScope("Namespaced").build());
    client.namespaces().resource(KubernetesMeshTest.namespace("trellis-system", Map.of())).create();
    client.namespaces().resource(KubernetesMeshTest.namespace("demo", Map.of("trellis.dev/mesh", "enabled"))).create();
    client.nodes().resource(KubernetesMeshTest.node("node-a", "10.0.0.5")).create();
    client.nodes().resource(KubernetesMeshTest.node("node-b", "10.0.0.6")).create();
    proxyUid = client.pods().inNamespace("trellis-system").resource(new PodBuilder().withNewMetadata()
        .withName("node-proxy-a").withNamespace("trellis-system").endMetadata().withNewSpec().withNodeName("node-a")
        .withHostNetwork(true).withServiceAccountName("trellis-node-proxy").endSpec().build()).create()
        .getMetadata().getUid();
    client.pods().inNamespace("demo").resource(KubernetesMeshTest.pod("demo", "web-0", "10.1.0.7", Map.of("app", "web")))
        .create(); // on node-a, service account web
    var db = KubernetesMeshTest.pod("demo", "db-0", "10.1.0.8", Map.of("app", "db"));
    db.getSpec().setNodeName("node-b");
    db.getSpec().setServiceAccountName("db");
    client.pods().inNamespace("demo").resource(db).create();
    client.services().inNamespace("demo")
        .resource(KubernetesMeshTest.service("demo", "web", "10.96.0.10", Map.of("app", "web"))).create();

    cp = replica("cp-0", client);
    channel = NettyChannelBuilder.forAddress("127.0.0.1", cp.xdsPort()).usePlaintext().build();
  }

  /** A control-plane replica named {@code podName} (its Lease identity) on the mock API server. */
  static ControlPlane replica(String podName, KubernetesClient client) throws Exception {
    ControlPlaneOptions.Cluster cluster = new ControlPlaneOptions.Cluster("trellis-system", podName,
        Set.of("trellis-system/trellis-node-proxy"), TrustDomain.CLUSTER_LOCAL, "cluster.local", MtlsMode.PERMISSIVE,
        LEASE, Duration.ofSeconds(30)).withEgress(new dev.trellis.controlplane.model.MeshEgress(List.of("169.254.169.254")));
    return new ControlPlane(ControlPlaneOptions.kubernetes(cluster).withBind("127.0.0.1").withPorts(0, 0, 0)
        .withDebounce(Duration.ofMillis(20), Duration.ofMillis(200)), Clock.systemUTC(), client).start();
  }

  static final Leadership.Timings LEASE = new Leadership.Timings(Duration.ofSeconds(2), Duration.ofMillis(1500),
      Duration.ofMillis(200));

  @AfterEach
  void stop() throws Exception {
    clientExecutor.shutdownNow();
    if (channel != null) {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    if (cp != null) {
      cp.close();
    }
  }

  IssuedSvid sign(String token, String identity) throws Exception {
    return sign(channel, token, identity);
  }

  static IssuedSvid sign(ManagedChannel channel, String token, String identity) throws Exception {
    CaClient ca = new CaClient(channel, BearerTokenCredentials.of(FakeJwt.of(token)), Duration.ZERO, Duration.ofSeconds(5),
        Clock.systemUTC());
    return ca.fetchSvid(SpiffeId.parse(identity)).toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @Test
  void theCaSignsForATrustedNodeProxysOwnNodeOnly() throws Exception {
    assertThat(sign("proxy-a", "spiffe://cluster.local/ns/demo/sa/web").svid().id().toString())
        .isEqualTo("spiffe://cluster.local/ns/demo/sa/web");
    assertThatThrownBy(() -> sign("proxy-a", "spiffe://cluster.local/ns/demo/sa/db"))
        .as("db runs on node-b only").hasMessageContaining("PERMISSION_DENIED");
    assertThatThrownBy(() -> sign("web-app", "spiffe://cluster.local/ns/demo/sa/web"))
        .as("not a node proxy's service account").hasMessageContaining("UNAUTHENTICATED")
        .hasMessageContaining("not a trusted node proxy");
    assertThatThrownBy(() -> sign("proxy-a-stale", "spiffe://cluster.local/ns/demo/sa/web"))
        .as("token of a pod that was replaced").hasMessageContaining("UNAUTHENTICATED")
        .hasMessageContaining("was replaced");
    assertThatThrownBy(() -> sign("garbage", "spiffe://cluster.local/ns/demo/sa/web"))
        .hasCauseInstanceOf(StatusRuntimeException.class).hasMessageContaining("UNAUTHENTICATED");
    await().atMost(Duration.ofSeconds(15)).until(() -> cp.clusterStatus().leader());

    String metrics = cp.adminView().metricsText();
    assertThat(PrometheusFamilies.describe(metrics)).as("cluster mode: the Lease and TokenReviews, no mesh file")
        .contains("trellis_leader gauge -", "trellis_tokenreviews_total counter -")
        .noneMatch(f -> f.startsWith("trellis_config_reloads_total"));
    assertThat(metrics.lines()).contains("trellis_leader 1.0")
        .anyMatch(l -> l.startsWith("trellis_tokenreviews_total ") && !l.endsWith(" 0.0"));
  }

  @Test
  void theRootIsASecretAndTheLeaderPublishesTheTrustBundleToEnrolledNamespaces() {
    assertThat(client.secrets().inNamespace("trellis-system").withName("trellis-ca-root").get()).isNotNull();
    String pem = cp.ca().trustBundle().toPem(TrustDomain.CLUSTER_LOCAL);
    await().atMost(Duration.ofSeconds(15)).until(() -> pem.equals(bundleIn("demo")) && pem.equals(bundleIn("trellis-system")));
    assertThat(bundleIn("default")).isNull();
    assertThat(cp.clusterStatus().leader()).isTrue();

    client.namespaces().resource(KubernetesMeshTest.namespace("fresh", Map.of("trellis.dev/mesh", "enabled"))).create();
    await().atMost(Duration.ofSeconds(15)).alias("a labeled namespace without pods yet").until(() -> pem.equals(bundleIn("fresh")));

    client.namespaces().withName("demo").edit(n -> {
      n.getMetadata().getLabels().remove("trellis.dev/mesh");
      return n;
    });
    await().atMost(Duration.ofSeconds(15)).until(() -> bundleIn("demo") == null);
  }

  /**
   * Two replicas: the follower serves xDS and signs CSRs like the leader (one CA root, the Secret); when the leader
   * goes (its replica stopped), the follower takes the Lease within the lease duration and from then on writes what
   * only the leader writes (here the trust-bundle ConfigMap of a namespace enrolled after the handover), while a
   * node proxy connected to it sees no error: its xDS stream keeps delivering changes and its CSRs are signed before
   * and after.
   */
  @Test
  void losingTheLeaderMovesTrustBundleWritingToTheOtherReplicaWithinTheLeaseWhileItKeepsServingXdsAndTheCa()
      throws Exception {
    await().atMost(Duration.ofSeconds(15)).until(() -> cp.clusterStatus().leader());
    try (KubernetesClient otherClient = new KubernetesClientBuilder().withConfig(client.getConfiguration()).build()) {
      ControlPlane follower = replica("cp-1", otherClient);
      ManagedChannel toFollower = NettyChannelBuilder.forAddress("127.0.0.1", follower.xdsPort()).usePlaintext()
          .build();
      AdsClient proxy = AdsClient.builder(toFollower, Node.newBuilder().setId("node-a").build(), clientExecutor)
          .callCredentials(BearerTokenCredentials.of(FakeJwt.of("proxy-a"))).build();
      try {
        await().atMost(Duration.ofSeconds(10)).until(() -> "cp-0".equals(follower.clusterStatus().currentLeader()));
        assertThat(follower.clusterStatus().leader()).isFalse();
        assertThat(follower.ca().trustBundle().toPem(TrustDomain.CLUSTER_LOCAL))
            .as("one root for both replicas: the Secret").isEqualTo(cp.ca().trustBundle().toPem(TrustDomain.CLUSTER_LOCAL));
        Latest<Message> workloads = new Latest<>();
        proxy.watch(WORKLOAD, "*", workloads);
        proxy.start();
        await().atMost(Duration.ofSeconds(10)).until(() -> workloads.resources.containsKey("demo/web-0"));
        assertThat(sign(toFollower, "proxy-a", "spiffe://cluster.local/ns/demo/sa/web").svid().id().toString())
            .as("the follower signs").isEqualTo("spiffe://cluster.local/ns/demo/sa/web");

        long stopped = System.nanoTime();
        cp.close(); // the leader replica stops
        cp = null;
        await().atMost(LEASE.leaseDuration()).pollInterval(Duration.ofMillis(20))
            .until(() -> follower.clusterStatus().leader());
        Duration takeover = Duration.ofNanos(System.nanoTime() - stopped);
        System.out.printf("leader replica stopped: cp-1 leads after %d ms (lease %s)%n", takeover.toMillis(),
            LEASE.leaseDuration());

        String pem = follower.ca().trustBundle().toPem(TrustDomain.CLUSTER_LOCAL);
        client.namespaces().resource(KubernetesMeshTest.namespace("late", Map.of("trellis.dev/mesh", "enabled")))
            .create();
        await().atMost(Duration.ofSeconds(10)).alias("the new leader writes the trust bundle")
            .until(() -> pem.equals(bundleIn("late")));

        client.pods().inNamespace("demo")
            .resource(KubernetesMeshTest.pod("demo", "web-1", "10.1.0.9", Map.of("app", "web"))).create(); // node-a
        await().atMost(Duration.ofSeconds(10)).alias("xDS from the surviving replica keeps flowing")
            .until(() -> workloads.resources.containsKey("demo/web-1"));
        assertThat(sign(toFollower, "proxy-a", "spiffe://cluster.local/ns/demo/sa/web").svid().id().toString())
            .as("the surviving replica signs").isEqualTo("spiffe://cluster.local/ns/demo/sa/web");
        assertThat(workloads.ambient).as("no error on the proxy's stream").isNull();
      } finally {
        proxy.close();
        toFollower.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        follower.close();
      }
    }
  }

  String bundleIn(String namespace) {
    var cm = client.configMaps().inNamespace(namespace).withName("trellis-ca-root-cert").get();
    return cm == null ? null : cm.getData().get("root-cert.pem");
  }

  @Test
  void clusterChangesReachANodeProxyOverXds() throws Exception {
    AdsClient proxy = AdsClient.builder(channel, Node.newBuilder().setId("node-a").build(), clientExecutor)
        .callCredentials(BearerTokenCredentials.of(FakeJwt.of("proxy-a"))).build();
    Latest<Message> clusters = new Latest<>();
    Latest<Message> workloads = new Latest<>();
    Latest<Message> listeners = new Latest<>();
    proxy.watch(CLUSTER, "*", clusters);
    proxy.watch(WORKLOAD, "*", workloads);
    proxy.watch(dev.trellis.xds.resource.ResourceType.LISTENER, "trellis-outbound", listeners);
    proxy.start();
    String web = "outbound|80||web.demo.svc.cluster.local";
    await().atMost(Duration.ofSeconds(10)).until(() -> workloads.resources.containsKey("demo/web-0")
        && clusters.resources.keySet().stream().anyMatch(k -> k.contains("web.demo.svc.cluster.local"))
        && listeners.resources.containsKey("trellis-outbound"));
    assertThat(((io.envoyproxy.envoy.config.listener.v3.Listener) listeners.resources.get("trellis-outbound"))
        .getDefaultFilterChain().getMetadata().getFilterMetadataOrThrow("trellis").getFieldsOrThrow("egress_allow_cidrs")
        .getListValue().getValues(0).getStringValue()).as("--egress-allow-cidrs reaches node proxies")
        .isEqualTo("169.254.169.254/32");
    assertThat(workloads.resources).as("node-a's view: not db-0 on node-b").containsOnlyKeys("demo/web-0");
    String name = clusters.resources.keySet().stream().filter(k -> k.contains("web.demo.svc.cluster.local:80")
        || k.equals(web)).findFirst().orElseThrow();

    // A Service port's appProtocol (else its name) is the protocol the CDS says to speak to its endpoints.
    assertThat(upstream((Cluster) clusters.resources.get("outbound|9090||web.demo.svc.cluster.local")))
        .as("appProtocol kubernetes.io/h2c").isEqualTo("http2");
    assertThat(upstream((Cluster) clusters.resources.get(web))).as("a port named http").isEqualTo("http1");

    // A TrafficPolicy becomes the cluster's circuit breaker thresholds.
    client.genericKubernetesResources(TRAFFIC_POLICY).inNamespace("demo").resource(new GenericKubernetesResourceBuilder()
        .withApiVersion("mesh.trellis.dev/v1alpha1").withKind("TrafficPolicy").withNewMetadata().withNamespace("demo")
        .withName("web").endMetadata().addToAdditionalProperties("spec", Map.of(
            "targetRef", Map.of("kind", "Service", "name", "web"),
            "connectionPool", Map.of("maxRequests", 77)))
        .build()).create();
    await().atMost(Duration.ofSeconds(10)).until(() -> maxRequests((Cluster) clusters.resources.get(name)) == 77);

    // Unlabeling the namespace takes its pods out of the mesh: node-a is told, and may no longer sign for web.
    assertThat(((dev.trellis.mesh.v1.Workload) workloads.resources.get("demo/web-0")).getInMesh()).isTrue();
    client.namespaces().withName("demo").edit(n -> {
      n.getMetadata().getLabels().remove("trellis.dev/mesh");
      return n;
    });
    await().atMost(Duration.ofSeconds(10))
        .until(() -> !((dev.trellis.mesh.v1.Workload) workloads.resources.get("demo/web-0")).getInMesh());
    assertThatThrownBy(() -> sign("proxy-a", "spiffe://cluster.local/ns/demo/sa/web"))
        .hasMessageContaining("PERMISSION_DENIED");
    proxy.close();
  }

  @Test
  void anonymousXdsIsRefusedInClusterModeUnlessTurnedOn() throws Exception {
    assertThat(cp.ads()).isNotNull();
    AdsClient anonymous = AdsClient.builder(channel, Node.newBuilder().setId("proxyless-1").build(), clientExecutor)
        .build();
    Latest<Message> clusters = new Latest<>();
    anonymous.watch(CLUSTER, "*", clusters);
    anonymous.start();
    await().atMost(Duration.ofSeconds(10)).until(() -> clusters.ambient != null);
    assertThat(clusters.ambient.getCode()).isEqualTo(io.grpc.Status.Code.UNAUTHENTICATED);
    assertThat(clusters.ambient.getDescription()).contains("missing 'authorization' metadata");
    assertThat(clusters.resources).isEmpty();
    anonymous.close();
    assertThat(cp.refusals().count("xds", "unauthenticated")).isPositive();

    ControlPlaneOptions.Cluster c = ControlPlaneOptions.Cluster.defaults("trellis-system", "cp-0",
        Set.of("trellis-system/trellis-node-proxy"));
    assertThat(ControlPlaneOptions.kubernetes(c).anonymousXds()).isEqualTo(BearerAuthInterceptor.Anonymous.REJECT);
    assertThat(ControlPlaneOptions.kubernetes(c).withAnonymousXds(BearerAuthInterceptor.Anonymous.ALLOW).anonymousXds())
        .isEqualTo(BearerAuthInterceptor.Anonymous.ALLOW);
    assertThat(ControlPlaneOptions.local(java.nio.file.Path.of("mesh.yaml"), java.nio.file.Path.of("s")).anonymousXds())
        .as("local mode keeps serving proxyless gRPC with an insecure bootstrap")
        .isEqualTo(BearerAuthInterceptor.Anonymous.ALLOW);
  }

  static String upstream(Cluster c) throws Exception {
    var explicit = c.getTypedExtensionProtocolOptionsOrThrow("envoy.extensions.upstreams.http.v3.HttpProtocolOptions")
        .unpack(HttpProtocolOptions.class).getExplicitHttpConfig();
    return explicit.hasHttp2ProtocolOptions() ? "http2" : explicit.hasHttpProtocolOptions() ? "http1" : "neither";
  }

  static int maxRequests(Cluster c) {
    return c == null || !c.hasCircuitBreakers() || c.getCircuitBreakers().getThresholdsCount() == 0 ? -1
        : c.getCircuitBreakers().getThresholds(0).getMaxRequests().getValue();
  }
}
