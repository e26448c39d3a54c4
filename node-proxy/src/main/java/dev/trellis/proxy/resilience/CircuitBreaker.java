package dev.trellis.proxy.resilience;

import dev.trellis.proxy.state.ClusterSpec;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * A cluster's circuit-breaker counters, shared by every event loop (atomics, no locks). Each
 * {@code tryAcquire*} either takes a slot under the current limit or counts an overflow and refuses:
 * overflow is answered at once with a local 503, never queued without bound.
 */
public final class CircuitBreaker {

  /** What a slot is for. */
  public enum Resource {
    CONNECTIONS,
    PENDING_REQUESTS,
    REQUESTS,
    RETRIES
  }

  private final Supplier<ClusterSpec.Breaker> limits;
  private final AtomicLong[] used = new AtomicLong[Resource.values().length];
  private final AtomicLong[] overflows = new AtomicLong[Resource.values().length];

  public CircuitBreaker(Supplier<ClusterSpec.Breaker> limits) {
    this.limits = limits;
    for (int i = 0; i < used.length; i++) {
      used[i] = new AtomicLong();
      overflows[i] = new AtomicLong();
    }
  }

  /** Takes a slot if one is free; counts an overflow otherwise. */
  public boolean tryAcquire(Resource r) {
    return tryAcquire(r, limit(r));
  }

  /** Takes a slot under an explicit limit (retries under a budget computed by the caller). */
  public boolean tryAcquire(Resource r, long limit) {
    AtomicLong u = used[r.ordinal()];
    while (true) {
      long n = u.get();
      if (n >= limit) {
        overflows[r.ordinal()].incrementAndGet();
        return false;
      }
      if (u.compareAndSet(n, n + 1)) {
        return true;
      }
    }
  }

  public void release(Resource r) {
    long n = used[r.ordinal()].decrementAndGet();
    if (n < 0) {
      used[r.ordinal()].incrementAndGet();
      throw new IllegalStateException(r + " released more often than acquired");
    }
  }

  public long used(Resource r) {
    return used[r.ordinal()].get();
  }

  public long overflows(Resource r) {
    return overflows[r.ordinal()].get();
  }

  public long limit(Resource r) {
    ClusterSpec.Breaker b = limits.get();
    return switch (r) {
      case CONNECTIONS -> b.maxConnections();
      case PENDING_REQUESTS -> b.maxPendingRequests();
      case REQUESTS -> b.maxRequests();
      case RETRIES -> RetryBudget.limit(b, used(Resource.REQUESTS), used(Resource.PENDING_REQUESTS));
    };
  }
}
