package dev.trellis.proxy.state;

import java.time.Duration;

/**
 * An upstream cluster as the proxy runs it.
 *
 * @param breaker circuit-breaker limits (Envoy's defaults where xDS gave none)
 * @param outlier outlier detection, or null when disabled
 */
public record ClusterSpec(String name, LbAlgorithm lb, Duration connectTimeout, Breaker breaker, Outlier outlier) {

  public enum LbAlgorithm {
    ROUND_ROBIN,
    LEAST_REQUEST,
    RING_HASH,
    MAGLEV,
    RANDOM
  }

  /**
   * Circuit-breaker thresholds per cluster.
   *
   * @param retryBudgetPercent share of active requests that may be retries; negative when unset
   */
  public record Breaker(int maxConnections, int maxPendingRequests, int maxRequests, int maxRetries,
      double retryBudgetPercent, int minRetryConcurrency) {

    /** Envoy's defaults: 1024 of each, 3 retries, no budget. */
    public static final Breaker DEFAULTS = new Breaker(1024, 1024, 1024, 3, -1, 3);
  }

  public record Outlier(int consecutive5xx, Duration interval, Duration baseEjectionTime, int maxEjectionPercent) {}
}
