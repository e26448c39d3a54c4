package dev.trellis.proxy.resilience;

import dev.trellis.proxy.state.ClusterSpec;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * A cluster's circuit-breaker counters, shared by every event loop (atomics, no locks). Each
 * {@code tryAcquire} either takes a slot under the current limit or counts an overflow and refuses:
 * overflow is answered at once with a local 503, never queued without bound. An overflow counts a refused
 * request: a request that waits for a slot and tries again ({@link #tryTake}) counts one only if it is refused in the
 * end ({@link #countOverflow}).
 *
 * <p>Connection slots are held by the event loops' upstream pools, each confined to its loop. The pools that use this
 * cluster join it as {@link SlotHolder}s, so that a slot held by an idle connection on one loop can be freed for a
 * request waiting on another ({@link #reclaimIdle}), and a slot released on any loop wakes the requests waiting for
 * one on every loop ({@link #release}). Holders are called from any thread and hop to their own loop.
 */
public final class CircuitBreaker {

  /**
   * One event loop's share of the cluster's connection slots (its upstream pool). Called from any thread; an
   * implementation does its work on its own event loop ({@code execute}), never blocking the caller.
   */
  public interface SlotHolder {
    /** A connection slot was released: requests waiting here for one may try again. Cheap when none waits. */
    void onSlotReleased();

    /**
     * A request on another loop waits for a slot: close one idle connection of the cluster if this loop has one
     * (its slot is then released), else run {@code none} (on any thread).
     */
    void closeIdle(Runnable none);
  }

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
  private final Set<SlotHolder> holders = ConcurrentHashMap.newKeySet();

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

  /**
   * Takes a slot if one is free, without counting an overflow: for a request that waits for a slot and tries again.
   * If it is refused in the end, {@link #countOverflow} counts it once.
   */
  public boolean tryTake(Resource r) {
    AtomicLong u = used[r.ordinal()];
    long limit = limit(r);
    while (true) {
      long n = u.get();
      if (n >= limit) {
        return false;
      }
      if (u.compareAndSet(n, n + 1)) {
        return true;
      }
    }
  }

  /** Counts one request refused for want of {@code r} after it waited ({@link #tryTake}). */
  public void countOverflow(Resource r) {
    overflows[r.ordinal()].incrementAndGet();
  }

  /** Gives a slot back; a connection slot wakes the holders' waiting requests. */
  public void release(Resource r) {
    long n = used[r.ordinal()].decrementAndGet();
    if (n < 0) {
      used[r.ordinal()].incrementAndGet();
      throw new IllegalStateException(r + " released more often than acquired");
    }
    if (r == Resource.CONNECTIONS) {
      holders.forEach(SlotHolder::onSlotReleased);
    }
  }

  /** {@code h} holds or waits for connection slots of this cluster from now on. */
  public void join(SlotHolder h) {
    holders.add(h);
  }

  /** {@code h} holds no connection slot and waits for none any more. */
  public void leave(SlotHolder h) {
    holders.remove(h);
  }

  /**
   * Asks the other holders than {@code asking}, one after the other, until one closes an idle connection (whose
   * slot then wakes the waiting requests through {@link #release}); nothing happens if none has one.
   */
  public void reclaimIdle(SlotHolder asking) {
    List<SlotHolder> others = holders.stream().filter(h -> h != asking).toList();
    askNext(others, 0);
  }

  private static void askNext(List<SlotHolder> others, int i) {
    if (i < others.size()) {
      others.get(i).closeIdle(() -> askNext(others, i + 1));
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
