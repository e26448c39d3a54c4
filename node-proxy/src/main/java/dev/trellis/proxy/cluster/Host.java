package dev.trellis.proxy.cluster;

import dev.trellis.proxy.resilience.OutlierState;
import dev.trellis.proxy.state.ClusterSpec;
import dev.trellis.proxy.state.EndpointSpec;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntSupplier;

/**
 * One endpoint of a cluster at run time: the endpoint as xDS last described it, its requests in
 * flight and its outlier state. Shared by every event loop (atomics only); survives endpoint updates
 * that keep its address, so an ejection outlives an unrelated EDS push.
 */
public final class Host {

  private final String key;
  private volatile EndpointSpec endpoint;
  private final AtomicInteger active = new AtomicInteger();
  private final AtomicReference<OutlierState> outlier = new AtomicReference<>(OutlierState.HEALTHY);

  public Host(EndpointSpec endpoint) {
    this.endpoint = endpoint;
    this.key = endpoint.hostPort();
  }

  /** {@code ip:port}, stable for the host's life. */
  public String key() {
    return key;
  }

  public EndpointSpec endpoint() {
    return endpoint;
  }

  void update(EndpointSpec e) {
    this.endpoint = e;
  }

  public int active() {
    return active.get();
  }

  public void requestStarted() {
    active.incrementAndGet();
  }

  public void requestEnded() {
    active.decrementAndGet();
  }

  public OutlierState outlier() {
    return outlier.get();
  }

  public boolean ejectedAt(long now) {
    return outlier.get().ejectedAt(now);
  }

  /**
   * Records one attempt's result for outlier detection.
   *
   * @param ejectedOthers counts the cluster's other hosts ejected now (asked only when this one may go)
   * @return true if this result ejected the host
   */
  public boolean record(ClusterSpec.Outlier policy, boolean serverFailure, long now, IntSupplier ejectedOthers,
      int totalHosts) {
    if (policy == null) {
      return false;
    }
    while (true) {
      OutlierState s = outlier.get();
      if (!serverFailure && s.consecutive() == 0) {
        return false;
      }
      int others = serverFailure && s.consecutive() + 1 >= policy.consecutive5xx() && !s.ejectedAt(now)
          ? ejectedOthers.getAsInt() : 0;
      OutlierState n = s.next(policy, serverFailure, now, others, totalHosts);
      if (outlier.compareAndSet(s, n)) {
        return n.ejectedAt(now) && !s.ejectedAt(now);
      }
    }
  }

  @Override
  public String toString() {
    return key;
  }
}
