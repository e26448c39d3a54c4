package dev.trellis.controlplane.admin;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonParser;
import dev.trellis.controlplane.config.MeshFileSource;
import dev.trellis.mtls.refusal.RefusalLog;
import dev.trellis.xds.cache.ConfigStore;
import dev.trellis.xds.cache.Snapshot;
import dev.trellis.xds.resource.ClientKind;
import dev.trellis.xds.resource.ResourceType;
import dev.trellis.xds.resource.XdsResource;
import dev.trellis.xds.server.ClientStatus;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The control plane's admin pages over a fake {@link AdminView}: what each page shows of what the view says. */
class AdminServerTest {

  /** An {@link AdminView} whose answers a test sets. */
  static final class FakeView implements AdminView {
    volatile Snapshot snapshot = Snapshot.empty();
    volatile MeshFileSource.Status meshStatus;
    volatile ClusterStatus clusterStatus;
    volatile String metricsText = "";
    volatile List<ClientStatus> clients = List.of();

    @Override
    public Snapshot snapshot() {
      return snapshot;
    }

    @Override
    public List<ClientStatus> clients(Duration timeout) {
      return clients;
    }

    @Override
    public MeshFileSource.Status meshStatus() {
      return meshStatus;
    }

    @Override
    public ClusterStatus clusterStatus() {
      return clusterStatus;
    }

    @Override
    public String metricsText() {
      return metricsText;
    }
  }

  private final FakeView view = new FakeView();
  private final List<String> refusalLines = new ArrayList<>();
  private final HttpClient http = HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY).build();
  private AdminServer admin;

  private void start() throws Exception {
    admin = AdminServer.start(new InetSocketAddress("127.0.0.1", 0), view,
        new AdminAccess(null, AdminAccessTest.NODES, AdminAccess::sameHost),
        new RefusalLog(refusalLines::add, Duration.ofSeconds(10), Clock.systemUTC()));
  }

  @AfterEach
  void stop() {
    if (admin != null) {
      admin.close();
    }
  }

  /** A snapshot with one cluster, as the config store numbers it (version 1). */
  private static Snapshot published() {
    ConfigStore store = new ConfigStore();
    store.publish(Snapshot.builder().add(ResourceType.CLUSTER, Cluster.newBuilder().setName("c").build()).build());
    return store.current();
  }

  private HttpResponse<String> get(String path) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin.port() + path)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void metricsAreTheViewsTextInThePrometheusFormat() throws Exception {
    view.metricsText = "# TYPE trellis_xds_connected_clients gauge\ntrellis_xds_connected_clients 2.0\n";
    start();
    HttpResponse<String> r = get("/metrics");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type")).hasValue("text/plain; version=0.0.4");
    assertThat(r.body()).isEqualTo(view.metricsText);
  }

  @Test
  void readinessNamesTheSnapshotTheLeaseAndARejectedEdit() throws Exception {
    view.snapshot = published();
    start();
    assertThat(get("/healthz/ready").body()).isEqualTo("ready: serving snapshot 1\n");

    view.meshStatus = new MeshFileSource.Status(Instant.EPOCH, 3, 1, List.of("mesh.yaml:4:7: weight: 'lots'"));
    view.clusterStatus = new AdminView.ClusterStatus(false, "cp-1", "cp-0", List.of("gateway.networking.k8s.io/v1"));
    HttpResponse<String> r = get("/healthz/ready");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).isEqualTo("""
        ready: serving snapshot 1
        cluster mode: replica cp-1 follows (leader: cp-0)
        warning: the cluster does not serve gateway.networking.k8s.io/v1
        warning: the latest mesh file edit was rejected; the last good configuration is served:
          mesh.yaml:4:7: weight: 'lots'
        """);
  }

  @Test
  void theConfigPageIsTheViewsSnapshotAsJson() throws Exception {
    view.snapshot = published();
    start();
    var config = JsonParser.parseString(get("/debug/config").body()).getAsJsonObject();
    assertThat(config.get("version").getAsLong()).isEqualTo(1);
    assertThat(config.getAsJsonObject("CDS").keySet()).containsExactly("c");
    assertThat(get("/debug/clients").body()).isEqualTo("[]\n");
    assertThat(config.getAsJsonObject("CDS").getAsJsonObject("c").has("variants")).isFalse();
  }

  @Test
  void theConfigPageShowsWhatEachKindOfClientGetsInstead() throws Exception {
    ConfigStore store = new ConfigStore();
    Cluster maglev = Cluster.newBuilder().setName("c").setLbPolicy(Cluster.LbPolicy.MAGLEV).build();
    store.publish(Snapshot.builder().add(ResourceType.CLUSTER, maglev)
        .addVariant(ClientKind.PROXYLESS, new Snapshot.Variant(XdsResource.of(ResourceType.CLUSTER,
            maglev.toBuilder().setLbPolicy(Cluster.LbPolicy.RING_HASH).build()), "RING_HASH instead of MAGLEV"))
        .build());
    view.snapshot = store.current();
    start();
    var c = JsonParser.parseString(get("/debug/config").body()).getAsJsonObject().getAsJsonObject("CDS")
        .getAsJsonObject("c");
    assertThat(c.getAsJsonObject("resource").get("lbPolicy").getAsString()).isEqualTo("MAGLEV");
    var proxyless = c.getAsJsonObject("variants").getAsJsonObject("proxyless");
    assertThat(proxyless.get("note").getAsString()).isEqualTo("RING_HASH instead of MAGLEV");
    assertThat(proxyless.getAsJsonObject("resource").get("lbPolicy").getAsString()).isEqualTo("RING_HASH");
    assertThat(c.getAsJsonObject("variants").keySet()).containsExactly("proxyless");
  }

  @Test
  void theClientsPageShowsTheClientsKindItsNotesAndLateNacks() throws Exception {
    Instant at = Instant.parse("2026-01-02T03:04:05Z");
    view.clients = List.of(new ClientStatus("ads-1", "sotw", "grpc-client", "anonymous", null, at, null, true,
        "proxyless", List.of("CDS outbound|80||web.demo.svc.cluster.local: RING_HASH instead of MAGLEV"),
        List.of(new ClientStatus.TypeStatus("CDS", true, 0, List.of(), 2, 2, "3", at, 2, 1, 0, null, null, null, 1,
            new ClientStatus.LateNack("1", true, "rejected after all", at)))));
    start();
    var client = JsonParser.parseString(get("/debug/clients").body()).getAsJsonArray().get(0).getAsJsonObject();
    assertThat(client.get("kind").getAsString()).isEqualTo("proxyless");
    assertThat(client.getAsJsonArray("notes").get(0).getAsString())
        .isEqualTo("CDS outbound|80||web.demo.svc.cluster.local: RING_HASH instead of MAGLEV");
    var cds = client.getAsJsonArray("types").get(0).getAsJsonObject();
    assertThat(cds.get("lateNacks").getAsLong()).isEqualTo(1);
    var late = cds.getAsJsonObject("lastLateNack");
    assertThat(late.get("nonce").getAsString()).isEqualTo("1");
    assertThat(late.get("lastAcked").getAsBoolean()).isTrue();
    assertThat(late.get("error").getAsString()).isEqualTo("rejected after all");
    assertThat(late.get("at").getAsString()).isEqualTo("2026-01-02T03:04:05Z");
  }
}
