package dev.trellis.controlplane.server;

import static dev.trellis.xds.resource.ResourceType.CLUSTER;
import static dev.trellis.xds.resource.ResourceType.ROUTE;
import static dev.trellis.xds.resource.ResourceType.WORKLOAD;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.Message;
import dev.trellis.ca.client.BearerTokenCredentials;
import dev.trellis.ca.client.CaClient;
import dev.trellis.controlplane.config.MeshFileException;
import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.svid.IssuedSvid;
import dev.trellis.mtls.svid.X509Svid;
import dev.trellis.telemetry.metrics.PrometheusFamilies;
import dev.trellis.xds.client.AdsClient;
import dev.trellis.xds.client.ResourceWatcher;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.netty.NettyChannelBuilder;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The control-plane process on loopback ports: xDS, CA, TLS port, hot reload, admin endpoints. */
class ControlPlaneTest {

  static final String NODE1_TOKEN = "example-node-1-token-change-me";

  @TempDir
  Path dir;

  private Path meshFile;
  private ControlPlane cp;
  private ManagedChannel channel;
  private final ScheduledExecutorService clientExecutor = Executors.newSingleThreadScheduledExecutor();
  private final HttpClient http = HttpClient.newHttpClient();

  @BeforeEach
  void start() throws Exception {
    meshFile = dir.resolve("mesh.yaml");
    Files.copy(Path.of("..", "examples", "mesh.yaml"), meshFile);
    cp = new ControlPlane(ControlPlaneOptions.local(meshFile, dir.resolve("state")).withPorts(0, 0, 0)
        .withPollInterval(Duration.ofMillis(100)).withDebounce(Duration.ofMillis(20), Duration.ofMillis(200)),
        Clock.systemUTC()).start();
    channel = NettyChannelBuilder.forAddress("127.0.0.1", cp.xdsPort()).usePlaintext().build();
  }

  @AfterEach
  void stop() throws Exception {
    clientExecutor.shutdownNow();
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    cp.close();
  }

  /** Collects the latest resource per name, thread-safe for awaiting. */
  static final class Latest<T extends Message> implements ResourceWatcher<T> {
    final Map<String, T> resources = new ConcurrentHashMap<>();
    volatile Status ambient;

    @Override
    public void onChanged(String name, T resource) {
      resources.put(name, resource);
    }

    @Override
    public void onRemoved(String name) {
      resources.remove(name);
    }

    @Override
    public void onAmbientError(Status status) {
      ambient = status;
    }
  }

  private AdsClient client(String nodeId, String token) {
    AdsClient.Builder b = AdsClient.builder(channel, Node.newBuilder().setId(nodeId).build(), clientExecutor);
    if (token != null) {
      b.callCredentials(BearerTokenCredentials.of(token));
    }
    return b.build();
  }

  @Test
  void aNodeProxySeesTheGlobalConfigAndOnlyItsOwnWorkloads() {
    AdsClient c = client("node-1", NODE1_TOKEN);
    Latest<Message> clusters = new Latest<>();
    Latest<Message> workloads = new Latest<>();
    c.watch(CLUSTER, "*", clusters);
    c.watch(WORKLOAD, "*", workloads);
    c.start();
    await().atMost(Duration.ofSeconds(10)).until(() -> workloads.resources.size() == 2 && clusters.resources.size() == 5);
    assertThat(workloads.resources).containsOnlyKeys("demo/frontend-0", "demo/greeter-v1-0");
    c.close();
  }

  @Test
  void anAnonymousClientGetsNoWorkloadsAndAWrongNodeIdIsRefused() {
    AdsClient anonymous = client("proxyless-1", null);
    Latest<Message> clusters = new Latest<>();
    Latest<Message> workloads = new Latest<>();
    anonymous.watch(CLUSTER, "*", clusters);
    anonymous.watch(WORKLOAD, "*", workloads);
    anonymous.start();
    await().atMost(Duration.ofSeconds(10)).until(() -> clusters.resources.size() == 5);
    assertThat(workloads.resources).isEmpty();
    anonymous.close();

    AdsClient impostor = client("node-2", NODE1_TOKEN);
    Latest<Message> w = new Latest<>();
    impostor.watch(WORKLOAD, "*", w);
    impostor.start();
    await().atMost(Duration.ofSeconds(10)).until(() -> w.ambient != null);
    assertThat(w.ambient.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(w.ambient.getDescription()).contains("node.id 'node-2' does not match the node of the token (node-1)");
    impostor.close();
  }

  @Test
  void theCaSignsForWorkloadsOfTheCallersNodeOnly() throws Exception {
    CaClient ca = new CaClient(channel, BearerTokenCredentials.of(NODE1_TOKEN), Duration.ZERO, Duration.ofSeconds(5),
        Clock.systemUTC());
    IssuedSvid greeter = ca.fetchSvid(SpiffeId.parse("spiffe://cluster.local/ns/demo/sa/greeter"))
        .toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertThat(greeter.svid().id().toString()).isEqualTo("spiffe://cluster.local/ns/demo/sa/greeter");
    assertThatThrownBy(() -> ca.fetchSvid(SpiffeId.parse("spiffe://cluster.local/ns/demo/sa/nobody"))
        .toCompletableFuture().get(10, TimeUnit.SECONDS))
        .hasCauseInstanceOf(StatusRuntimeException.class)
        .hasMessageContaining("PERMISSION_DENIED");
    assertThat(get("/metrics").body().lines()).contains("trellis_ca_certificates_signed_total 1.0",
        "trellis_ca_sign_failures_total{reason=\"not_authorized\"} 1.0");
  }

  @Test
  void theTlsPortPresentsAMeshCertificateThatStandardClientsVerify() throws Exception {
    X509Svid serving = cp.servingCertificate();
    assertThat(serving.id().toString()).isEqualTo("spiffe://cluster.local/ns/trellis-system/sa/trellis-control-plane");
    var roots = cp.ca().trustBundle().roots(TrustDomain.CLUSTER_LOCAL);
    ManagedChannel tls = NettyChannelBuilder.forAddress(new InetSocketAddress("127.0.0.1", cp.xdsTlsPort()),
            TlsChannelCredentials.newBuilder().trustManager(new java.io.ByteArrayInputStream(
                dev.trellis.mtls.svid.Pem.encodeCertificates(roots).getBytes(java.nio.charset.StandardCharsets.US_ASCII)))
                .build())
        .overrideAuthority("localhost").build();
    try {
      CaClient ca = new CaClient(tls, BearerTokenCredentials.of(NODE1_TOKEN), Duration.ZERO, Duration.ofSeconds(5),
          Clock.systemUTC());
      IssuedSvid svid = ca.fetchSvid(SpiffeId.parse("spiffe://cluster.local/ns/demo/sa/frontend"))
          .toCompletableFuture().get(10, TimeUnit.SECONDS);
      assertThat(svid.svid().id().toString()).endsWith("/sa/frontend");
    } finally {
      tls.shutdownNow();
    }
  }

  @Test
  void anEditOfTheMeshFileReachesARunningClientAndABadEditKeepsTheLastGoodConfig() throws Exception {
    AdsClient c = client("node-1", NODE1_TOKEN);
    Latest<RouteConfiguration> routes = new Latest<>();
    String name = "greeter.demo.svc.cluster.local:50051";
    c.watch(ROUTE, name, routes);
    c.start();
    await().atMost(Duration.ofSeconds(10)).until(() -> routes.resources.containsKey(name));
    assertThat(weights(routes.resources.get(name))).containsExactly(80, 20);

    Files.writeString(meshFile, Files.readString(meshFile).replace("weight: 80}", "weight: 50}")
        .replace("weight: 20}", "weight: 50}"));
    await().atMost(Duration.ofSeconds(10)).until(() -> weights(routes.resources.get(name)).equals(List.of(50, 50)));
    assertThat(cp.pushStats().count()).as("the edit was translated and published").isPositive();
    assertThat(get("/metrics").body().lines())
        .contains("trellis_config_push_duration_seconds_count " + cp.pushStats().count());

    long version = cp.store().current().version();
    Files.writeString(meshFile, Files.readString(meshFile).replace("weight: 50}", "weight: lots}"));
    await().atMost(Duration.ofSeconds(10)).until(() -> !cp.meshStatus().lastProblems().isEmpty());
    assertThat(cp.meshStatus().lastProblems()).anySatisfy(p -> assertThat(p).contains("weight: 'lots' is not a whole number"));
    assertThat(cp.store().current().version()).isEqualTo(version);
    assertThat(get("/healthz/ready").body()).contains("the latest mesh file edit was rejected").contains("'lots'");
    c.close();
  }

  /**
   * Every family the admin port served when it built its text by hand (captured from a running control plane before
   * the change; README, docs/kubernetes.md): name, type and label names. The push duration was a summary without
   * quantiles; an OpenTelemetry histogram keeps its {@code _sum} and {@code _count} and adds buckets.
   */
  static final List<String> LOCAL_MODE_FAMILIES = List.of(
      "jvm_memory_heap_committed_bytes gauge -",
      "jvm_memory_heap_max_bytes gauge -",
      "jvm_memory_heap_used_bytes gauge -",
      "process_cpu_seconds_total counter -",
      "trellis_ca_certificates_signed_total counter -",
      "trellis_ca_sign_failures_total counter reason",
      "trellis_config_last_push_timestamp_seconds gauge -",
      "trellis_config_push_duration_seconds histogram -",
      "trellis_config_reloads_total counter result",
      "trellis_config_resources gauge -",
      "trellis_config_snapshot_version gauge -",
      "trellis_control_plane_refusals_total counter reason,service",
      "trellis_xds_acks_total counter type",
      "trellis_xds_anonymous_streams gauge -",
      "trellis_xds_connected_clients gauge -",
      "trellis_xds_late_nacks_total counter type",
      "trellis_xds_nacks_total counter type",
      "trellis_xds_responses_total counter type");

  @Test
  void metricsKeepTheNamesTypesAndLabelsTheAdminPortAlwaysServed() throws Exception {
    AdsClient c = client("node-1", NODE1_TOKEN);
    Latest<Message> clusters = new Latest<>();
    c.watch(CLUSTER, "*", clusters);
    c.start();
    CaClient ca = new CaClient(channel, BearerTokenCredentials.of(NODE1_TOKEN), Duration.ZERO, Duration.ofSeconds(5),
        Clock.systemUTC());
    ca.fetchSvid(SpiffeId.parse("spiffe://cluster.local/ns/demo/sa/greeter")).toCompletableFuture()
        .get(10, TimeUnit.SECONDS);
    assertThatThrownBy(() -> ca.fetchSvid(SpiffeId.parse("spiffe://cluster.local/ns/demo/sa/nobody"))
        .toCompletableFuture().get(10, TimeUnit.SECONDS)).hasMessageContaining("PERMISSION_DENIED");
    var forged = dev.trellis.ca.v1.CertificateServiceGrpc.newBlockingStub(channel)
        .withCallCredentials(BearerTokenCredentials.of("forged-token"));
    assertThatThrownBy(() -> forged.sign(dev.trellis.ca.v1.SignRequest.newBuilder().setIdentity("x").build()))
        .hasMessageContaining("UNAUTHENTICATED");
    Files.writeString(meshFile, Files.readString(meshFile).replace("weight: 80}", "weight: 70}")
        .replace("weight: 20}", "weight: 30}"));
    await().atMost(Duration.ofSeconds(10)).until(() -> cp.lastPublished() != null && clusters.resources.size() == 5);

    String text = get("/metrics").body();

    assertThat(PrometheusFamilies.describe(text)).containsExactlyInAnyOrderElementsOf(LOCAL_MODE_FAMILIES);
    assertThat(text.lines()).contains("trellis_config_reloads_total{result=\"applied\"} 1.0",
        "trellis_config_reloads_total{result=\"rejected\"} 0.0",
        "trellis_config_snapshot_version " + (double) cp.store().current().version(),
        "trellis_config_last_push_timestamp_seconds " + cp.lastPublished().toEpochMilli() / 1000.0,
        "trellis_config_push_duration_seconds_count " + cp.pushStats().count())
        .noneMatch(l -> l.startsWith("trellis_leader") || l.startsWith("trellis_tokenreviews"));
    c.close();
  }

  @Test
  void adminEndpointsShowClientsConfigAndMetrics() throws Exception {
    AdsClient c = client("node-1", NODE1_TOKEN);
    Latest<Message> clusters = new Latest<>();
    c.watch(CLUSTER, "*", clusters);
    c.start();
    await().atMost(Duration.ofSeconds(10)).until(() -> clusters.resources.size() == 5);
    await().atMost(Duration.ofSeconds(10)).until(() -> get("/debug/clients").body().contains("\"acks\": 1"));
    String clients = get("/debug/clients").body();
    assertThat(clients).contains("\"client\": \"node-1\"").contains("\"principal\": \"node token of node-1\"")
        .contains("\"type\": \"CDS\"").contains("\"protocol\": \"delta\"");
    String config = get("/debug/config").body();
    assertThat(config).contains("\"outbound|50051||greeter.demo.svc.cluster.local\"").contains("\"lbPolicy\": \"LEAST_REQUEST\"")
        .contains("spiffe://cluster.local/ns/demo/sa/greeter").doesNotContain("PRIVATE KEY");
    String metrics = get("/metrics").body();
    assertThat(metrics.lines()).contains("trellis_xds_connected_clients 1.0", "trellis_xds_acks_total{type=\"CDS\"} 1.0");
    assertThat(get("/healthz/ready").statusCode()).isEqualTo(200);
    assertThat(get("/nope").statusCode()).isEqualTo(404);
    c.close();
  }

  @Test
  void debugPagesNeedATokenFromAnotherHostAndANodeTokenSeesOnlyItsNode() throws Exception {
    // The same control plane's admin pages, served once more with a locality check that says "not this host" for
    // every caller: what a caller from another machine gets. (The check itself is table-tested in AdminAccessTest.)
    String adminToken = "admin-token-0123456789abcdef";
    List<String> lines = new java.util.ArrayList<>();
    dev.trellis.mtls.refusal.RefusalLog refusals = new dev.trellis.mtls.refusal.RefusalLog(lines::add,
        Duration.ofSeconds(10), Clock.systemUTC());
    AdsClient c = client("node-1", NODE1_TOKEN);
    Latest<Message> clusters = new Latest<>();
    c.watch(CLUSTER, "*", clusters);
    c.start();
    AdsClient other = client("node-2", "example-node-2-token-change-me");
    other.watch(CLUSTER, "*", new Latest<>());
    other.start();
    await().atMost(Duration.ofSeconds(10)).until(() -> get("/debug/clients").body().contains("\"node-2\""));
    try (var remote = dev.trellis.controlplane.admin.AdminServer.start(new InetSocketAddress("127.0.0.1", 0),
        cp.adminView(),
        new dev.trellis.controlplane.admin.AdminAccess(adminToken, cp.authenticator(), (peer, local) -> false),
        refusals)) {
      int port = remote.port();
      for (String page : List.of("/debug/config", "/debug/clients")) {
        HttpResponse<String> anonymous = get(port, page, null);
        assertThat(anonymous.statusCode()).isEqualTo(401);
        assertThat(anonymous.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(v -> assertThat(v).startsWith("Bearer"));
        assertThat(anonymous.body()).doesNotContain("greeter").contains("Authorization: Bearer <token>");
        assertThat(get(port, page, "Bearer not-a-token-of-anyone").statusCode()).isEqualTo(401);
      }
      assertThat(get(port, "/metrics", null).statusCode()).as("metrics stay open").isEqualTo(200);
      assertThat(get(port, "/healthz/ready", null).statusCode()).as("health stays open").isEqualTo(200);

      var node1Config = com.google.gson.JsonParser.parseString(get(port, "/debug/config", "Bearer " + NODE1_TOKEN).body())
          .getAsJsonObject();
      assertThat(node1Config.get("node").getAsString()).isEqualTo("node-1");
      assertThat(node1Config.getAsJsonObject("WDS").keySet()).as("workloads of node-1 only")
          .containsExactlyInAnyOrder("demo/frontend-0", "demo/greeter-v1-0");
      assertThat(node1Config.getAsJsonObject("CDS").keySet()).as("the global view, as its xDS stream gets it")
          .contains("outbound|50051||greeter.demo.svc.cluster.local");
      String node1Clients = get(port, "/debug/clients", "Bearer " + NODE1_TOKEN).body();
      assertThat(node1Clients).contains("\"client\": \"node-1\"").doesNotContain("\"node-2\"");

      var all = com.google.gson.JsonParser.parseString(get(port, "/debug/config", "Bearer " + adminToken).body())
          .getAsJsonObject();
      assertThat(all.getAsJsonObject("WDS").keySet()).hasSize(4).contains("demo/greeter-v2-0");
      assertThat(get(port, "/debug/clients", "Bearer " + adminToken).body()).contains("\"node-1\"").contains("\"node-2\"");
    }
    assertThat(refusals.count("admin", "unauthenticated")).isEqualTo(4);
    assertThat(lines).hasSize(1);
    // From this host (the real check, over a real loopback socket) everything stays visible: 'trellis status'.
    assertThat(com.google.gson.JsonParser.parseString(get("/debug/config").body()).getAsJsonObject()
        .getAsJsonObject("WDS").keySet()).hasSize(4);
    c.close();
    other.close();
  }

  @Test
  void refusedXdsAndCaCallsAreCountedByReasonOnMetrics() throws Exception {
    for (int i = 0; i < 20; i++) {
      var stub = dev.trellis.ca.v1.CertificateServiceGrpc.newBlockingStub(channel)
          .withCallCredentials(BearerTokenCredentials.of("forged-token-" + i));
      assertThatThrownBy(() -> stub.sign(dev.trellis.ca.v1.SignRequest.newBuilder().setIdentity("x").build()))
          .hasMessageContaining("UNAUTHENTICATED");
    }
    AdsClient impostor = client("node-2", NODE1_TOKEN);
    Latest<Message> w = new Latest<>();
    impostor.watch(WORKLOAD, "*", w);
    impostor.start();
    await().atMost(Duration.ofSeconds(10)).until(() -> w.ambient != null);
    impostor.close();
    String metrics = get("/metrics").body();
    assertThat(metrics.lines()).contains("trellis_control_plane_refusals_total{reason=\"unauthenticated\",service=\"ca\"} 20.0",
        "trellis_xds_anonymous_streams 0.0")
        .anyMatch(l -> l.startsWith("trellis_control_plane_refusals_total{reason=\"permission_denied\",service=\"xds\"} "));
  }

  @Test
  void aShortOrMissingAdminTokenFileStopsTheStartNamingTheFile() throws Exception {
    Path shortToken = dir.resolve("admin-token");
    Files.writeString(shortToken, "short\n");
    ControlPlane other = new ControlPlane(ControlPlaneOptions.local(meshFile, dir.resolve("s4")).withPorts(0, 0, 0)
        .withAdminTokenFile(shortToken), Clock.systemUTC());
    assertThatThrownBy(other::start).isInstanceOf(java.io.IOException.class)
        .hasMessageContaining("the admin token in " + shortToken + " has 5 characters (expected: at least 16");
    ControlPlane missing = new ControlPlane(ControlPlaneOptions.local(meshFile, dir.resolve("s5")).withPorts(0, 0, 0)
        .withAdminTokenFile(dir.resolve("nope")), Clock.systemUTC());
    assertThatThrownBy(missing::start).hasMessageContaining("cannot read the admin token file")
        .hasMessageContaining("--admin-token-file");
  }

  @Test
  void anInvalidMeshFileStopsTheStartWithEveryProblem() throws Exception {
    Path bad = dir.resolve("bad.yaml");
    Files.writeString(bad, "nodes: [{name: n, address: 127.0.0.1, token: short}]\nservces: []\n");
    ControlPlane other = new ControlPlane(ControlPlaneOptions.local(bad, dir.resolve("s2")).withPorts(0, 0, 0), Clock.systemUTC());
    assertThatThrownBy(other::start).isInstanceOfSatisfying(MeshFileException.class, e -> assertThat(e.problems())
        .anySatisfy(p -> assertThat(p).contains("bad.yaml:1:").contains("token has 5 characters"))
        .anySatisfy(p -> assertThat(p).contains("bad.yaml:2:1: servces: unknown field")));
    other.close();
  }

  @Test
  void aPortInUseFailsTheStartNamingThePortAndLeavesTheOtherInstanceAlone() throws Exception {
    ControlPlane second = new ControlPlane(ControlPlaneOptions.local(meshFile, dir.resolve("s3"))
        .withPorts(0, 0, cp.adminPort()), Clock.systemUTC());
    assertThatThrownBy(second::start).isInstanceOf(java.io.IOException.class)
        .hasMessageContaining(":" + cp.adminPort()).hasMessageContaining("the port is in use");
    assertThat(get("/healthz/ready").statusCode()).as("the first control plane is unaffected").isEqualTo(200);
  }

  private static List<Integer> weights(RouteConfiguration rc) {
    return rc == null ? List.of() : rc.getVirtualHosts(0).getRoutes(0).getRoute().getWeightedClusters().getClustersList()
        .stream().map(w -> w.getWeight().getValue()).toList();
  }

  private HttpResponse<String> get(String path) throws Exception {
    return get(cp.adminPort(), path, null);
  }

  private HttpResponse<String> get(int port, String path, String authorization) throws Exception {
    HttpRequest.Builder r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path));
    if (authorization != null) {
      r.header("Authorization", authorization);
    }
    return http.send(r.build(), HttpResponse.BodyHandlers.ofString());
  }
}
