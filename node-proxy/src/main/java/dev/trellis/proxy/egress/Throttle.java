package dev.trellis.proxy.egress;

import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * At most one permit per period, for log lines about what a pod does (refused destinations, failed dials): the
 * first one is logged, the rest within the period only counted. Thread-safe, lock-free.
 */
public final class Throttle {

  private final LongSupplier ticker;
  private final long periodNanos;
  private final AtomicLong next = new AtomicLong(Long.MIN_VALUE);
  private final AtomicLong suppressed = new AtomicLong();

  /** @param ticker nanoseconds (System::nanoTime in production) */
  public Throttle(LongSupplier ticker, java.time.Duration period) {
    this.ticker = ticker;
    this.periodNanos = period.toNanos();
  }

  /**
   * Whether this event may be logged now; if so, how many were suppressed since the last one is in
   * {@link #takeSuppressed()}.
   */
  public boolean tryAcquire() {
    long now = ticker.getAsLong();
    long due = next.get();
    if ((due == Long.MIN_VALUE || now - due >= 0) && next.compareAndSet(due, now + periodNanos)) {
      return true;
    }
    suppressed.incrementAndGet();
    return false;
  }

  /** Events not logged since the last permit (and resets the count). */
  public long takeSuppressed() {
    return suppressed.getAndSet(0);
  }
}
