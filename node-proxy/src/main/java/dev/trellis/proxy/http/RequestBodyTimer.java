package dev.trellis.proxy.http;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The request-body timeout of one downstream (an HTTP/1.1 connection or an HTTP/2 stream,
 * {@link HttpLimits#requestBodyTimeout}): counts only while the proxy waits for the client, from the moment the
 * exchange asks for more body ({@link #reading}) until some arrives ({@link #received}); time the proxy spends not
 * reading (the upstream is slow to take the body) is not the client's fault and does not count. One timer at a time on
 * the downstream's event loop, cancelled by {@link #stop}. Confined to that event loop.
 */
final class RequestBodyTimer {

  private final EventExecutor executor;
  private final LongSupplier ticker;
  private final long timeoutNanos;
  private final Runnable onStall;
  private boolean waiting;
  private boolean stopped;
  private long since;
  private ScheduledFuture<?> timer;

  /** @param onStall runs once, on {@code executor}, when the client kept the proxy waiting for the whole timeout */
  RequestBodyTimer(EventExecutor executor, LongSupplier ticker, HttpLimits limits, Runnable onStall) {
    this.executor = executor;
    this.ticker = ticker;
    this.timeoutNanos = limits.requestBodyTimeout().toNanos();
    this.onStall = onStall;
  }

  /** The proxy asked the client for more of the body: the clock runs unless it already does. */
  void reading() {
    if (stopped) {
      return;
    }
    if (!waiting) {
      waiting = true;
      since = ticker.getAsLong();
    }
    if (timer == null) {
      schedule(timeoutNanos);
    }
  }

  /** Body bytes arrived: the clock stops until the proxy asks again. */
  void received() {
    waiting = false;
  }

  /** The body is complete or the exchange is over: no more timeout. Idempotent. */
  void stop() {
    stopped = true;
    waiting = false;
    if (timer != null) {
      timer.cancel(false);
      timer = null;
    }
  }

  /** Nanoseconds left before a wait that began at {@code since} has lasted {@code timeout}; <= 0: it has. */
  static long remaining(long since, long now, long timeout) {
    return timeout - (now - since);
  }

  private void schedule(long nanos) {
    timer = executor.schedule(this::check, nanos, TimeUnit.NANOSECONDS);
  }

  private void check() {
    timer = null;
    if (!waiting || stopped) {
      return;
    }
    long left = remaining(since, ticker.getAsLong(), timeoutNanos);
    if (left > 0) {
      schedule(left);
      return;
    }
    stop();
    onStall.run();
  }
}
