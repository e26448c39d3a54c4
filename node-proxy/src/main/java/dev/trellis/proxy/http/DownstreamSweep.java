package dev.trellis.proxy.http;

import static java.util.Objects.requireNonNull;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.ArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The deadlines of an event loop's downstream HTTP/1.1 connections (first byte, request headers, idle), checked by one
 * periodic task for all of them instead of a timer scheduled and cancelled per connection: a connection joins when it
 * is accepted ({@link #add}) and leaves when it closes ({@link #remove}), each O(1) and without allocation. The task
 * runs only while a connection is watched, every quarter of the shortest limit a watched connection asked for
 * (at least {@link #MIN_PERIOD_NANOS}), so a limit is enforced within 1.25 times its value. One per event loop (the
 * {@link UpstreamPool} of that loop holds it); confined to that loop.
 */
final class DownstreamSweep {

  static final long MIN_PERIOD_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

  /** A connection whose deadlines the sweep checks; its slot is the sweep's bookkeeping, -1 while not watched. */
  interface Watched {
    /** Called by the sweep with the ticker's time; closes the connection if one of its deadlines has passed. */
    void check(long now);

    int slot();

    void slot(int slot);
  }

  private final EventExecutor executor;
  private final LongSupplier ticker;
  private final ArrayList<Watched> watched = new ArrayList<>();
  private long periodNanos = Long.MAX_VALUE;
  private ScheduledFuture<?> task;

  DownstreamSweep(EventExecutor executor, LongSupplier ticker) {
    this.executor = requireNonNull(executor, "executor");
    this.ticker = requireNonNull(ticker, "ticker");
  }

  /** The ticker's time (nanoseconds), for the watched connections' own bookkeeping. */
  long now() {
    return ticker.getAsLong();
  }

  /** The period for {@code limits}: a quarter of the shortest of its first-byte, header and idle timeouts. */
  static long periodFor(HttpLimits limits) {
    long shortest = Math.min(limits.firstByteTimeout().toNanos(),
        Math.min(limits.headerTimeout().toNanos(), limits.idleTimeout().toNanos()));
    return Math.max(MIN_PERIOD_NANOS, shortest / 4);
  }

  /** Starts watching {@code w}, checked at least every {@code periodNanos}. */
  void add(Watched w, long periodNanos) {
    if (w.slot() >= 0) {
      return;
    }
    w.slot(watched.size());
    watched.add(w);
    if (periodNanos < this.periodNanos) {
      this.periodNanos = periodNanos;
      if (task != null) {
        task.cancel(false);
        task = null;
      }
    }
    if (task == null) {
      task = executor.scheduleWithFixedDelay(this::sweep, this.periodNanos, this.periodNanos, TimeUnit.NANOSECONDS);
    }
  }

  /** Stops watching {@code w}; nothing if it is not watched. The task stops with the last one. */
  void remove(Watched w) {
    int i = w.slot();
    if (i < 0) {
      return;
    }
    w.slot(-1);
    Watched last = watched.removeLast();
    if (last != w) {
      watched.set(i, last);
      last.slot(i);
    }
    if (watched.isEmpty()) {
      task.cancel(false);
      task = null;
      periodNanos = Long.MAX_VALUE;
    }
  }

  /** How many connections are watched. */
  int size() {
    return watched.size();
  }

  /** Whether the periodic task is scheduled (for tests). */
  boolean running() {
    return task != null;
  }

  private void sweep() {
    long now = ticker.getAsLong();
    // Backwards: a check that removes its own connection moves only an already visited one into its slot.
    for (int i = watched.size() - 1; i >= 0; i--) {
      if (i < watched.size()) {
        watched.get(i).check(now);
      }
    }
  }
}
