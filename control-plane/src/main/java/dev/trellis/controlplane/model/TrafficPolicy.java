package dev.trellis.controlplane.model;

import java.time.Duration;

/**
 * Resilience settings for calls to one service ({@code TrafficPolicy}, mesh.trellis.dev/v1alpha1).
 * Null parts keep Envoy's defaults.
 */
public record TrafficPolicy(String name, String namespace, ObjectRef service, LoadBalancer loadBalancer,
    ConnectionPool connectionPool, OutlierDetection outlierDetection, RetryBudget retryBudget) {

  public ObjectRef ref() {
    return new ObjectRef(namespace, name);
  }

  /**
   * @param hashHeader for RING_HASH/MAGLEV: hash this request header; null to hash the source IP
   */
  public record LoadBalancer(Algorithm algorithm, String hashHeader) {}

  public enum Algorithm {
    ROUND_ROBIN,
    LEAST_REQUEST,
    RING_HASH,
    MAGLEV,
    RANDOM
  }

  /** Circuit-breaker thresholds (null: Envoy default). */
  public record ConnectionPool(Integer maxConnections, Integer maxPendingRequests, Integer maxRequests, Integer maxRetries) {}

  public record OutlierDetection(Integer consecutive5xx, Duration interval, Duration baseEjectionTime,
      Integer maxEjectionPercent) {}

  /** Retries may add at most {@code percent} % of active requests, but always {@code minConcurrency}. */
  public record RetryBudget(double percent, int minConcurrency) {}
}
