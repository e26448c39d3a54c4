package dev.trellis.proxy.resilience;

import dev.trellis.proxy.state.ClusterSpec;

/** How many retries a cluster may have in flight at once (Envoy's retry budget / max_retries). */
public final class RetryBudget {

  private RetryBudget() {}

  /**
   * With a budget: {@code max(min_retry_concurrency, budget_percent% of active and pending
   * requests)}; without one: the {@code max_retries} circuit breaker. Retries never multiply an
   * outage beyond that.
   */
  public static long limit(ClusterSpec.Breaker breaker, long activeRequests, long pendingRequests) {
    if (breaker.retryBudgetPercent() < 0) {
      return breaker.maxRetries();
    }
    long share = (long) Math.floor((activeRequests + pendingRequests) * breaker.retryBudgetPercent() / 100.0);
    return Math.max(breaker.minRetryConcurrency(), share);
  }
}
