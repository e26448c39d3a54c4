package dev.trellis.proxy.admin;

import dev.trellis.proxy.cluster.ClusterRuntime;
import dev.trellis.proxy.cluster.Host;
import dev.trellis.proxy.resilience.CircuitBreaker;
import dev.trellis.proxy.resilience.OutlierState;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * Renders the debug port's {@code /clusters} from values: a pure function over the clusters' counters, so the format
 * is tested without sockets. {@code now} is the ticker's nanoseconds (the clock outlier detection uses). The same
 * counters reach {@code /metrics} as instruments ({@link ProxyMetrics}).
 */
final class AdminViews {

  private AdminViews() {}

  /**
   * One block per cluster: spec, breaker limits with what is in use and overflow counts, request
   * counters, then one line per endpoint with its health (ejected and for how long, consecutive
   * failures, ejections so far) and active requests.
   */
  static String clusters(Collection<ClusterRuntime> clusters, long now) {
    StringBuilder b = new StringBuilder();
    for (ClusterRuntime c : sorted(clusters)) {
      b.append(c.name()).append(" lb=").append(c.spec().lb().name().toLowerCase(Locale.ROOT)).append('\n');
      CircuitBreaker breaker = c.breaker();
      b.append("  breaker");
      for (CircuitBreaker.Resource r : CircuitBreaker.Resource.values()) {
        b.append(' ').append(r.name().toLowerCase(Locale.ROOT)).append('=').append(breaker.used(r)).append('/')
            .append(breaker.limit(r)).append(" overflow=").append(breaker.overflows(r));
      }
      b.append('\n');
      ClusterRuntime.Stats s = c.stats();
      b.append("  requests=").append(s.requests.get()).append(" retries=").append(s.retries.get())
          .append(" retry_overflow=").append(s.retriesOverflowed.get()).append(" connect_failures=")
          .append(s.connectFailures.get()).append(" timeouts=").append(s.timeouts.get()).append(" upstream_5xx=")
          .append(s.responses5xx.get()).append(" ejections=").append(s.ejections.get()).append('\n');
      for (Host h : c.hosts()) {
        OutlierState o = h.outlier();
        b.append("  ").append(h.key()).append(' ').append(health(h, now)).append(" weight=")
            .append(h.endpoint().weight()).append(" active=").append(h.active()).append(" consecutive_failures=")
            .append(o.consecutive()).append(" ejections=").append(o.ejections())
            .append(h.endpoint().inMesh() ? " hbone " + h.endpoint().identity() : " plaintext").append('\n');
      }
    }
    return b.toString();
  }

  private static String health(Host h, long now) {
    if (!h.ejectedAt(now)) {
      return "healthy";
    }
    long millis = (h.outlier().ejectedUntil() - now) / 1_000_000L;
    return "ejected (" + millis + " ms left)";
  }

  private static List<ClusterRuntime> sorted(Collection<ClusterRuntime> clusters) {
    return clusters.stream().sorted(Comparator.comparing(ClusterRuntime::name)).toList();
  }
}
