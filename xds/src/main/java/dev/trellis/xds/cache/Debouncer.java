package dev.trellis.xds.cache;

import static java.util.Objects.requireNonNull;

import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Coalesces bursts of config changes into one push: after a change it waits for {@code quiet}
 * without further changes, but never longer than {@code maxDelay} from the first change of the burst.
 * A zero quiet period pushes at once. Runs {@code action} on {@code scheduler}.
 */
public final class Debouncer {

  private final Runnable action;
  private final ScheduledExecutorService scheduler;
  private final long quietNanos;
  private final long maxDelayNanos;
  private final LongSupplier nanoTime;

  private ScheduledFuture<?> pending;
  private long burstStart;

  public Debouncer(Runnable action, ScheduledExecutorService scheduler, Duration quiet, Duration maxDelay,
      LongSupplier nanoTime) {
    this.action = requireNonNull(action, "action");
    this.scheduler = requireNonNull(scheduler, "scheduler");
    if (quiet.isNegative() || maxDelay.compareTo(quiet) < 0) {
      throw new IllegalArgumentException("debounce: quiet " + quiet + ", max delay " + maxDelay
          + " (expected: 0 <= quiet <= max delay)");
    }
    this.quietNanos = quiet.toNanos();
    this.maxDelayNanos = maxDelay.toNanos();
    this.nanoTime = requireNonNull(nanoTime, "nanoTime");
  }

  /** Records a change; the action runs once the burst settles. Thread-safe. */
  public synchronized void changed() {
    long now = nanoTime.getAsLong();
    if (pending == null) {
      burstStart = now;
    } else {
      pending.cancel(false);
    }
    long deadline = Math.min(now + quietNanos, burstStart + maxDelayNanos);
    pending = scheduler.schedule(this::fire, Math.max(0, deadline - now), TimeUnit.NANOSECONDS);
  }

  private void fire() {
    synchronized (this) {
      pending = null;
    }
    action.run();
  }
}
