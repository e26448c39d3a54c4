package dev.trellis.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.telemetry.Telemetry;
import dev.trellis.telemetry.config.TelemetrySettings;
import dev.trellis.telemetry.metrics.PrometheusFamilies;
import io.opentelemetry.api.common.Attributes;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * A node proxy's {@code /metrics} on both admin ports with telemetry off and on: its own metrics either way, the
 * telemetry's beside them when on. The proxy runs on loopback with free ports and a control plane that does not
 * answer (it is not ready, which its metrics say).
 */
class NodeProxyMetricsTest {

  /** Nothing listens on port 1: the ADS client keeps retrying in the background. */
  static final NodeProxyOptions OPTIONS = NodeProxyOptions.local("node-1", "127.0.64.1", "127.0.0.1:1",
      "node-proxy-metrics-test-token").withPorts(0, 0, 0).withInboundPort(0).withDebugAdminPort(0);

  private final HttpClient http = HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY).build();

  private String get(String url) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(url).isEqualTo(200);
    return r.body();
  }

  private Set<String> families(NodeProxy proxy) throws Exception {
    String health = get("http://127.0.64.1:" + proxy.adminPort() + "/metrics");
    String debug = get("http://127.0.64.1:" + proxy.debugAdminAddress().getPort() + "/metrics");
    assertThat(PrometheusFamilies.parse(debug).keySet()).isEqualTo(PrometheusFamilies.parse(health).keySet());
    assertThat(health.lines()).contains("trellis_proxy_ready 0.0", "trellis_proxy_config_info{version=\"0\"} 1");
    return PrometheusFamilies.parse(health).keySet();
  }

  @Test
  void withTelemetryOffTheAdminPortsStillServeTheProxysOwnMetrics() throws Exception {
    try (NodeProxy proxy = new NodeProxy(OPTIONS, Clock.systemUTC(), null, Telemetry.disabled()).start()) {
      assertThat(families(proxy)).contains("trellis_proxy_ready", "trellis_proxy_config_info",
          "trellis_proxy_hbone_connections", "trellis_proxy_upstream_connections")
          .noneMatch(f -> f.startsWith("trellis_telemetry_") || f.startsWith("http_"));
    }
  }

  @Test
  void withTelemetryOnTheProxysMetricsShareItsPipeline() throws Exception {
    Telemetry telemetry = Telemetry.create(TelemetrySettings.metricsOnly(), "trellis-node-proxy", Attributes.empty());
    try (NodeProxy proxy = new NodeProxy(OPTIONS, Clock.systemUTC(), null, telemetry).start()) {
      assertThat(families(proxy)).contains("trellis_proxy_ready", "trellis_proxy_config_info",
          "trellis_telemetry_spans_dropped_total", "trellis_telemetry_access_log_dropped_total");
      assertThat(telemetry.metricsPipeline().orElseThrow().prometheusText()).contains("trellis_proxy_ready 0.0");
    }
  }
}
