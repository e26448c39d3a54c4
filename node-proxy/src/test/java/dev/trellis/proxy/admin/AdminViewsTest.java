package dev.trellis.proxy.admin;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.proxy.cluster.ClusterRuntime;
import dev.trellis.proxy.cluster.Clusters;
import dev.trellis.proxy.identity.CertificateManager;
import dev.trellis.proxy.resilience.AttemptResult;
import dev.trellis.proxy.resilience.CircuitBreaker;
import dev.trellis.proxy.state.ClusterSpec;
import dev.trellis.proxy.state.EndpointSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class AdminViewsTest {

  static final long SECOND = 1_000_000_000L;
  static final SpiffeId WEB = SpiffeId.parse("spiffe://cluster.local/ns/demo/sa/web");

  static ClusterRuntime cluster() {
    ClusterSpec spec = new ClusterSpec("outbound|80||web.demo.svc.cluster.local", ClusterSpec.LbAlgorithm.ROUND_ROBIN,
        Duration.ofSeconds(1), new ClusterSpec.Breaker(10, 5, 20, 3, -1, 3),
        new ClusterSpec.Outlier(2, Duration.ofSeconds(10), Duration.ofSeconds(30), 100));
    List<EndpointSpec> endpoints = List.of(
        new EndpointSpec("10.0.0.1", 8080, WEB, "node-2", "127.0.2.1", true, "demo/web-0", "node-2", 1),
        new EndpointSpec("10.0.0.2", 8080, null, null, null, false, null, null, 1));
    return new Clusters().findOrCreate(spec, endpoints);
  }

  @Test
  void clustersShowBreakerUseAndOverflowsAndWhichEndpointIsEjectedForHowLong() {
    ClusterRuntime c = cluster();
    c.breaker().tryAcquire(CircuitBreaker.Resource.REQUESTS);
    c.breaker().tryAcquire(CircuitBreaker.Resource.PENDING_REQUESTS, 0);
    c.stats().requests.addAndGet(7);
    c.record(c.hosts().get(0), AttemptResult.response(503), 0);
    c.record(c.hosts().get(0), AttemptResult.response(503), 0);

    String text = AdminViews.clusters(List.of(c), 4 * SECOND);

    assertThat(text).contains("outbound|80||web.demo.svc.cluster.local lb=round_robin\n")
        .contains("requests=1/20 overflow=0").contains("pending_requests=0/5 overflow=1")
        .contains("requests=7 ").contains("upstream_5xx=2 ejections=1")
        .contains("  10.0.0.1:8080 ejected (26000 ms left) weight=1 active=0 consecutive_failures=0 ejections=1 hbone "
            + WEB)
        .contains("  10.0.0.2:8080 healthy weight=1 active=0 consecutive_failures=0 ejections=0 plaintext");
    assertThat(AdminViews.clusters(List.of(c), 31 * SECOND)).contains("10.0.0.1:8080 healthy");
  }

  @Test
  void metricsAreValidPrometheusTextWithOneHelpAndTypePerFamily() {
    ClusterRuntime c = cluster();
    c.breaker().tryAcquire(CircuitBreaker.Resource.CONNECTIONS, 0);
    c.record(c.hosts().get(1), AttemptResult.response(502), 0);
    c.record(c.hosts().get(1), AttemptResult.response(502), 0);
    var facts = new AdminViews.ProxyFacts(true, "v\"7\\", 2, 3, Map.of(200, 5L, 401, 1L),
        List.of(new CertificateManager.IdentityStatus(WEB, true, Instant.ofEpochSecond(1_800_000_000L), "0a")),
        Map.of("malformed request head", 4L), Map.of("hbone", Map.of("no_sni", 100L, "not_tls", 3L)));

    String text = AdminViews.metrics(List.of(c), facts, SECOND);

    Pattern sample = Pattern.compile("[a-z_][a-z0-9_]*(\\{([a-z_]+=\"([^\"\\\\]|\\\\.)*\",?)*})? -?\\d+");
    for (String line : text.split("\n")) {
      assertThat(line.startsWith("# HELP ") || line.startsWith("# TYPE ") || sample.matcher(line).matches())
          .as(line).isTrue();
    }
    assertThat(text.lines().filter(l -> l.startsWith("# TYPE trellis_proxy_cluster_endpoints ")).count()).isEqualTo(1);
    assertThat(text).contains("trellis_proxy_ready 1\n")
        .contains("trellis_proxy_config_info{version=\"v\\\"7\\\\\"} 1\n")
        .contains("trellis_proxy_inbound_requests_total{status=\"401\"} 1\n")
        .contains("trellis_proxy_inbound_unobserved_connections_total{reason=\"malformed request head\"} 4\n")
        .contains("trellis_proxy_refusals_total{listener=\"hbone\",reason=\"no_sni\"} 100\n")
        .contains("trellis_proxy_refusals_total{listener=\"hbone\",reason=\"not_tls\"} 3\n")
        .contains("trellis_proxy_certificate_expiry_seconds{identity=\"" + WEB + "\"} 1800000000\n")
        .contains("trellis_proxy_cluster_breaker_overflows_total{cluster=\"outbound|80||web.demo.svc.cluster.local\","
            + "resource=\"connections\"} 1\n")
        .contains("trellis_proxy_cluster_upstream_5xx_total{cluster=\"outbound|80||web.demo.svc.cluster.local\"} 2\n")
        .contains("trellis_proxy_cluster_endpoints{cluster=\"outbound|80||web.demo.svc.cluster.local\",health=\"ejected\"} 1\n")
        .contains("trellis_proxy_cluster_endpoints{cluster=\"outbound|80||web.demo.svc.cluster.local\",health=\"healthy\"} 1\n");
  }
}
