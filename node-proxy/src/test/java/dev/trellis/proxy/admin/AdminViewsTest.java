package dev.trellis.proxy.admin;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.proxy.cluster.ClusterRuntime;
import dev.trellis.proxy.cluster.Clusters;
import dev.trellis.proxy.resilience.AttemptResult;
import dev.trellis.proxy.resilience.CircuitBreaker;
import dev.trellis.proxy.state.ClusterSpec;
import dev.trellis.proxy.state.EndpointSpec;
import java.time.Duration;
import java.util.List;
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
}
