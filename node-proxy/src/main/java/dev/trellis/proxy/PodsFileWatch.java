package dev.trellis.proxy;

import dev.trellis.proxy.redirect.FilePodDirectory;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Local mode's stand-in for the API server's watch: re-reads the pods file every {@code period} on the given
 * scheduler and announces a change when its contents changed. A bad file is logged once (until it changes again)
 * and the last good one stays in force.
 */
final class PodsFileWatch implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(PodsFileWatch.class);

  private final FilePodDirectory pods;
  private final Runnable changed;
  private String lastError;
  private ScheduledExecutorService scheduler;
  private Duration period;
  private ScheduledFuture<?> next;
  private volatile boolean closed;

  PodsFileWatch(FilePodDirectory pods, Runnable changed) {
    this.pods = pods;
    this.changed = changed;
  }

  /** Looks every {@code period} from now on, the next look scheduled when one ends (a fixed delay). */
  PodsFileWatch start(ScheduledExecutorService scheduler, Duration period) {
    this.scheduler = scheduler;
    this.period = period;
    scheduleNext();
    return this;
  }

  private synchronized void scheduleNext() {
    if (!closed) {
      next = scheduler.schedule(() -> {
        check();
        scheduleNext();
      }, period.toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  /** One look at the file. */
  void check() {
    try {
      if (pods.reload()) {
        changed.run();
      }
      lastError = null;
    } catch (IOException e) {
      if (!e.getMessage().equals(lastError)) {
        log.warn("{} (the last good pods file stays in force)", e.getMessage());
        lastError = e.getMessage();
      }
    }
  }

  @Override
  public synchronized void close() {
    closed = true;
    if (next != null) {
      next.cancel(false);
    }
  }
}
