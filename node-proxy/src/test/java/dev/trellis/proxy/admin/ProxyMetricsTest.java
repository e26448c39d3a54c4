package dev.trellis.proxy.admin;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.proxy.cluster.ClusterRuntime;
import dev.trellis.proxy.identity.CertificateManager;
import dev.trellis.proxy.resilience.AttemptResult;
import dev.trellis.proxy.resilience.CircuitBreaker;
import dev.trellis.proxy.state.ProxyConfig;
import dev.trellis.telemetry.attributes.MeshAttributes;
import dev.trellis.telemetry.metrics.MetricsPipeline;
import dev.trellis.telemetry.metrics.PrometheusFamilies;
import io.opentelemetry.api.common.Attributes;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The node proxy's own metrics, through the metrics pipeline, under the names the admin port always served. */
class ProxyMetricsTest {

  static final long SECOND = 1_000_000_000L;
  static final String CLUSTER = "outbound|80||web.demo.svc.cluster.local";

  /**
   * Every family the admin port served when it built its text by hand (captured from a running proxy before the
   * change; docs/node-proxy-operations.md): name, type and label names.
   */
  static final List<String> FAMILIES = List.of(
      "trellis_proxy_certificate_expiry_seconds gauge identity",
      "trellis_proxy_certificate_ready gauge identity",
      "trellis_proxy_cluster_breaker_in_use gauge cluster,resource",
      "trellis_proxy_cluster_breaker_limit gauge cluster,resource",
      "trellis_proxy_cluster_breaker_overflows_total counter cluster,resource",
      "trellis_proxy_cluster_connect_failures_total counter cluster",
      "trellis_proxy_cluster_ejections_total counter cluster",
      "trellis_proxy_cluster_endpoints gauge cluster,health",
      "trellis_proxy_cluster_requests_total counter cluster",
      "trellis_proxy_cluster_retries_total counter cluster",
      "trellis_proxy_cluster_retry_overflows_total counter cluster",
      "trellis_proxy_cluster_timeouts_total counter cluster",
      "trellis_proxy_cluster_upstream_5xx_total counter cluster",
      "trellis_proxy_config_info gauge version",
      "trellis_proxy_drain_closed_connections_total counter -",
      "trellis_proxy_hbone_connections gauge -",
      "trellis_proxy_inbound_requests_total counter status",
      "trellis_proxy_inbound_unobserved_connections_total counter reason",
      "trellis_proxy_ready gauge -",
      "trellis_proxy_refusals_total counter listener,reason",
      "trellis_proxy_upstream_connections gauge -");

  private final MetricsPipeline pipeline = MetricsPipeline.scrapeOnly("trellis-node-proxy");
  private final FakeAdminView view = new FakeAdminView();
  private ClusterRuntime cluster;

  @BeforeEach
  void aProxyWithTrafficBehindIt() {
    cluster = AdminViewsTest.cluster();
    cluster.breaker().tryAcquire(CircuitBreaker.Resource.CONNECTIONS, 0);
    cluster.record(cluster.hosts().get(0), AttemptResult.response(503), 0);
    cluster.record(cluster.hosts().get(0), AttemptResult.response(503), 0);
    view.config = new ProxyConfig(7, List.of(), Map.of(), Map.of(), Map.of(), Map.of());
    view.hboneConnections = 2;
    view.upstreamConnections = 3;
    view.inboundByStatus = Map.of(200, 5L, 401, 1L);
    view.identities = List.of(new CertificateManager.IdentityStatus(AdminViewsTest.WEB, true,
        Instant.ofEpochSecond(1_800_000_000L), "0a"));
    view.unobservedConnections = Map.of("malformed request head", 4L);
    view.refusals = Map.of("hbone", Map.of("no_sni", 100L, "not_tls", 3L));
    view.clusters = List.of(cluster);
    ProxyMetrics.register(pipeline, view, () -> SECOND);
  }

  @AfterEach
  void close() {
    pipeline.close();
  }

  @Test
  void everyFamilyKeepsTheNameTypeAndLabelsTheAdminPortAlwaysServed() {
    assertThat(PrometheusFamilies.describe(pipeline.prometheusText())).containsExactlyInAnyOrderElementsOf(FAMILIES);
  }

  @Test
  void theSamplesSayWhatTheProxyKnowsAtEachScrape() {
    String c = "cluster=\"" + CLUSTER + "\"";
    assertThat(pipeline.prometheusText().lines()).contains(
        "trellis_proxy_ready 1.0",
        "trellis_proxy_config_info{version=\"7\"} 1",
        "trellis_proxy_hbone_connections 2.0",
        "trellis_proxy_upstream_connections 3.0",
        "trellis_proxy_inbound_requests_total{status=\"200\"} 5.0",
        "trellis_proxy_inbound_requests_total{status=\"401\"} 1.0",
        "trellis_proxy_inbound_unobserved_connections_total{reason=\"malformed request head\"} 4.0",
        "trellis_proxy_refusals_total{listener=\"hbone\",reason=\"no_sni\"} 100.0",
        "trellis_proxy_refusals_total{listener=\"hbone\",reason=\"not_tls\"} 3.0",
        "trellis_proxy_certificate_ready{identity=\"" + AdminViewsTest.WEB + "\"} 1.0",
        "trellis_proxy_certificate_expiry_seconds{identity=\"" + AdminViewsTest.WEB + "\"} 1.8E9",
        "trellis_proxy_cluster_upstream_5xx_total{" + c + "} 2.0",
        "trellis_proxy_cluster_ejections_total{" + c + "} 1.0",
        "trellis_proxy_cluster_breaker_overflows_total{" + c + ",resource=\"connections\"} 1.0",
        "trellis_proxy_cluster_breaker_limit{" + c + ",resource=\"requests\"} 20.0",
        "trellis_proxy_cluster_endpoints{" + c + ",health=\"ejected\"} 1.0",
        "trellis_proxy_cluster_endpoints{" + c + ",health=\"healthy\"} 1.0");

    view.ready = false;
    view.config = new ProxyConfig(8, List.of(), Map.of(), Map.of(), Map.of(), Map.of());
    view.refusals = Map.of("hbone", Map.of("no_sni", 101L, "not_tls", 3L));
    assertThat(pipeline.prometheusText().lines()).contains("trellis_proxy_ready 0.0",
        "trellis_proxy_config_info{version=\"8\"} 1",
        "trellis_proxy_refusals_total{listener=\"hbone\",reason=\"no_sni\"} 101.0")
        .doesNotContain("trellis_proxy_config_info{version=\"7\"} 1");
  }

  @Test
  void aClusterThatIsGoneLeavesNoSeriesBehind() {
    assertThat(pipeline.prometheusText()).contains("trellis_proxy_cluster_requests_total{cluster=");
    view.clusters = List.of();
    assertThat(pipeline.prometheusText()).doesNotContain("cluster=\"");
  }

  @Test
  void theMeshMetricsAndTheProxysOwnAreOneTextWithEachFamilyOnce() {
    pipeline.metrics().clientRequest(Attributes.of(MeshAttributes.DESTINATION_SERVICE, "web"), 2_000_000);
    List<String> families = PrometheusFamilies.describe(pipeline.prometheusText());
    assertThat(families).contains("http_client_request_duration_seconds histogram trellis_destination_service")
        .containsAll(FAMILIES).hasSize(FAMILIES.size() + 1);
  }
}
