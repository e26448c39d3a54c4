package dev.trellis.proxy.resilience;

import dev.trellis.proxy.state.ClusterSpec;

/**
 * One endpoint's outlier-detection state, an immutable value advanced by {@link #next}: a pure
 * function of the policy, the attempt's result and the time (nanoseconds from the proxy's ticker).
 *
 * <p>Envoy semantics: {@code consecutive_5xx} server failures in a row (5xx responses, connect
 * failures, resets and timeouts) eject the endpoint for {@code base_ejection_time} times the number of
 * times it was ejected (capped at 300 s), unless that would take more than
 * {@code max_ejection_percent} of the cluster out, though at least one endpoint may always go. It
 * returns to service when the time is up; its ejection count drops by one for every
 * {@code interval} it then stays healthy.
 *
 * @param consecutive server failures in a row since the last success
 * @param ejectedUntil when the current ejection ends, or 0 if never ejected
 * @param ejections the multiplier for the next ejection's duration
 */
public record OutlierState(int consecutive, long ejectedUntil, int ejections) {

  public static final OutlierState HEALTHY = new OutlierState(0, 0, 0);
  static final long MAX_EJECTION_NANOS = 300_000_000_000L;

  public boolean ejectedAt(long now) {
    return ejectedUntil != 0 && now < ejectedUntil;
  }

  /**
   * The state after one more result.
   *
   * @param ejectedHosts endpoints of the cluster ejected right now (this one excluded)
   * @param totalHosts endpoints in the cluster
   */
  public OutlierState next(ClusterSpec.Outlier policy, boolean serverFailure, long now, int ejectedHosts, int totalHosts) {
    if (policy == null) {
      return this;
    }
    if (!serverFailure) {
      return consecutive == 0 ? this : new OutlierState(0, ejectedUntil, ejections);
    }
    int failures = consecutive + 1;
    if (ejectedAt(now) || failures < policy.consecutive5xx()) {
      return new OutlierState(failures, ejectedUntil, ejections);
    }
    boolean capacity = ejectedHosts == 0 || (ejectedHosts + 1) * 100L <= (long) policy.maxEjectionPercent() * totalHosts;
    if (!capacity) {
      return new OutlierState(failures, ejectedUntil, ejections);
    }
    int count = decayed(policy, now) + 1;
    long duration = Math.min(MAX_EJECTION_NANOS, policy.baseEjectionTime().toNanos() * count);
    return new OutlierState(0, now + duration, count);
  }

  /** The ejection count after the healthy intervals since the last ejection ended. */
  private int decayed(ClusterSpec.Outlier policy, long now) {
    if (ejections == 0 || ejectedUntil == 0) {
      return 0;
    }
    long interval = Math.max(1, policy.interval().toNanos());
    long healthyIntervals = Math.max(0, now - ejectedUntil) / interval;
    return (int) Math.max(0, ejections - healthyIntervals);
  }
}
