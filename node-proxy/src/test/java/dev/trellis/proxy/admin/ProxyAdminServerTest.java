package dev.trellis.proxy.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ProxyAdminServerTest {

  private final HttpClient http = HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY).build();
  private ProxyAdminServer admin;

  @AfterEach
  void stop() {
    if (admin != null) {
      admin.close();
    }
  }

  @ParameterizedTest
  @CsvSource({"127.0.61.1,127.0.61.1", "127.0.0.1,127.0.0.1", "10.61.0.1,127.0.0.1", "192.168.1.7,127.0.0.1",
      "fd00::1,::1", "::1,0:0:0:0:0:0:0:1", "not-an-address,127.0.0.1"})
  void theDebugPortListensOnTheNodesOwnLoopbackAddressElseOnLoopback(String node, String debug) {
    assertThat(ProxyAdminServer.debugBindAddress(node)).isEqualTo(debug);
  }

  @Test
  void configDumpClustersAndConnectionsAreOnTheDebugPortOnlyHealthAndMetricsOnBoth() throws Exception {
    Map<String, Supplier<ProxyAdminServer.Page>> pages = Map.of(
        "/healthz/ready", () -> ProxyAdminServer.Page.text(200, "ready\n"),
        "/metrics", () -> ProxyAdminServer.Page.text(200, "trellis_proxy_ready 1\n"),
        "/config_dump", () -> ProxyAdminServer.Page.text(200, "{\"localWorkloads\":[]}"),
        "/clusters", () -> ProxyAdminServer.Page.text(200, "outbound|80||web\n"),
        "/connections", () -> ProxyAdminServer.Page.text(200, "200 spiffe://cluster.local/ns/d/sa/client\n"));
    admin = ProxyAdminServer.start(new InetSocketAddress("127.0.63.1", 0), new InetSocketAddress("127.0.63.1", 0),
        pages);
    String health = "http://127.0.63.1:" + admin.port();
    String debug = "http://127.0.63.1:" + admin.debugAddress().getPort();

    assertThat(get(health + "/healthz/ready")).isEqualTo("200 ready\n");
    assertThat(get(health + "/metrics")).isEqualTo("200 trellis_proxy_ready 1\n");
    for (String path : new String[] {"/config_dump", "/clusters", "/connections"}) {
      assertThat(get(health + path)).isEqualTo("404 " + path + " is on the debug admin port, which listens on "
          + "loopback only: on the node, curl " + debug + path + "\n");
      assertThat(get(debug + path)).startsWith("200 ");
    }
    assertThat(get(debug + "/healthz/ready")).isEqualTo("200 ready\n");
    assertThat(get(debug + "/metrics")).isEqualTo("200 trellis_proxy_ready 1\n");
    assertThat(get(health + "/other")).startsWith("404 not found; this port serves /healthz/ready, /metrics");
  }

  @Test
  void thePagesShowTheViewAndMetricsAreItsTextOnBothPorts() throws Exception {
    FakeAdminView view = new FakeAdminView();
    view.ready = false;
    view.metricsText = () -> "# TYPE trellis_proxy_ready gauge\ntrellis_proxy_ready 0.0\n";
    admin = ProxyAdminServer.start(new InetSocketAddress("127.0.63.1", 0), new InetSocketAddress("127.0.63.1", 0),
        view, () -> 0L);
    String health = "http://127.0.63.1:" + admin.port();
    String debug = "http://127.0.63.1:" + admin.debugAddress().getPort();

    assertThat(get(health + "/healthz/ready")).startsWith("503 not ready: waiting for config");
    view.draining = true;
    assertThat(get(health + "/healthz/ready")).as("a draining proxy says why it is not ready")
        .startsWith("503 not ready: draining");
    view.draining = false;
    view.ready = true;
    assertThat(get(health + "/healthz/ready")).isEqualTo("200 ready\n");
    assertThat(get(health + "/metrics")).isEqualTo("200 # TYPE trellis_proxy_ready gauge\ntrellis_proxy_ready 0.0\n");
    assertThat(get(debug + "/metrics")).isEqualTo(get(health + "/metrics"));
    assertThat(get(debug + "/config_dump")).startsWith("200 {");
    assertThat(get(debug + "/clusters")).isEqualTo("200 ");
    assertThat(get(debug + "/connections")).isEqualTo("200 ");
  }

  @Test
  void aDebugAddressThatIsNotLoopbackIsRefused() {
    assertThatThrownBy(() -> ProxyAdminServer.start(new InetSocketAddress("127.0.63.1", 0),
        new InetSocketAddress("0.0.0.0", 0), null, () -> 0L))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("is not a loopback address");
  }

  @Test
  void aDebugPortTakenByAnotherProgramNamesTheFlag() throws Exception {
    Map<String, Supplier<ProxyAdminServer.Page>> pages = Map.of();
    try (ServerSocket other = new ServerSocket(0, 1, InetAddress.getByName("127.0.63.1"))) { // no SO_REUSEPORT
      assertThatThrownBy(() -> ProxyAdminServer.start(new InetSocketAddress("127.0.63.1", 0),
          (InetSocketAddress) other.getLocalSocketAddress(), pages)).isInstanceOf(IOException.class)
          .hasMessageContaining("--debug-admin-port").hasMessageContaining("the port is in use");
    }
  }

  @Test
  void aSecondAdminServerBindsTheSamePortsBesideTheFirstAndServesThemAfterItCloses() throws Exception {
    Map<String, Supplier<ProxyAdminServer.Page>> pages = Map.of("/healthz/ready",
        () -> ProxyAdminServer.Page.text(200, "first\n"));
    admin = ProxyAdminServer.start(new InetSocketAddress("127.0.63.1", 0), new InetSocketAddress("127.0.63.1", 0),
        pages);
    InetSocketAddress health = new InetSocketAddress("127.0.63.1", admin.port());
    try (ProxyAdminServer second = ProxyAdminServer.start(health, admin.debugAddress(), Map.of("/healthz/ready",
        () -> ProxyAdminServer.Page.text(200, "second\n")))) {
      admin.close();
      admin = null;
      for (int i = 0; i < 20; i++) {
        assertThat(get("http://127.0.63.1:" + health.getPort() + "/healthz/ready")).isEqualTo("200 second\n");
      }
    }
  }

  private String get(String url) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).build(),
        HttpResponse.BodyHandlers.ofString());
    return r.statusCode() + " " + r.body();
  }
}
