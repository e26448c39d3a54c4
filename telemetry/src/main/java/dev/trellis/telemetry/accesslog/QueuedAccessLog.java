package dev.trellis.telemetry.accesslog;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.DoubleSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link AccessLog} as JSON lines: {@link #log} decides (sampling, failures always) and offers to a bounded queue;
 * one daemon thread formats and writes, flushing whenever the queue runs empty. A full queue drops and counts.
 */
final class QueuedAccessLog implements AccessLog {

  static final int DEFAULT_CAPACITY = 8192;
  private static final Logger log = LoggerFactory.getLogger(QueuedAccessLog.class);
  private static final long POLL_MILLIS = 100;
  private static final long CLOSE_TIMEOUT_MILLIS = 5_000;

  private final BlockingQueue<AccessLogEntry> queue;
  private final OutputStream sink;
  private final boolean closeSink;
  private final double samplingRatio;
  private final DoubleSupplier random;
  private final LongAdder dropped = new LongAdder();
  private final Thread writer;
  private volatile boolean closed;

  /**
   * @param ownership whether {@link #close()} closes {@code sink} (a file: yes; stdout/stderr: no)
   * @param random uniform in [0, 1), asked once per entry that is not a failure
   */
  QueuedAccessLog(OutputStream sink, SinkOwnership ownership, double samplingRatio, int capacity,
      DoubleSupplier random) {
    this.queue = new ArrayBlockingQueue<>(capacity);
    this.sink = sink;
    this.closeSink = ownership == SinkOwnership.CLOSE_WITH_LOG;
    this.samplingRatio = samplingRatio;
    this.random = random;
    this.writer = Thread.ofPlatform().name("trellis-access-log").daemon().unstarted(this::drain);
    writer.start();
  }

  QueuedAccessLog(OutputStream sink, SinkOwnership ownership, double samplingRatio) {
    this(sink, ownership, samplingRatio, DEFAULT_CAPACITY, () -> ThreadLocalRandom.current().nextDouble());
  }

  enum SinkOwnership {
    CLOSE_WITH_LOG,
    LEAVE_OPEN
  }

  @Override
  public void log(AccessLogEntry entry) {
    if (closed || !sampled(entry)) {
      return;
    }
    if (!queue.offer(entry)) {
      dropped.increment();
    }
  }

  private boolean sampled(AccessLogEntry e) {
    if (failed(e) || samplingRatio >= 1) {
      return true;
    }
    return samplingRatio > 0 && random.getAsDouble() < samplingRatio;
  }

  /** Kept whatever the sampling ratio. */
  static boolean failed(AccessLogEntry e) {
    return (e.status() != null && e.status() >= 500)
        || (e.grpcStatus() != null && e.grpcStatus() != 0)
        || e.responseFlags() != null
        || e.error() != null;
  }

  @Override
  public long dropped() {
    return dropped.sum();
  }

  private void drain() {
    boolean warned = false;
    while (true) {
      AccessLogEntry entry;
      try {
        entry = queue.poll(POLL_MILLIS, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        entry = null;
        Thread.currentThread().interrupt();
      }
      try {
        if (entry != null) {
          sink.write(AccessLogJson.line(entry).getBytes(StandardCharsets.UTF_8));
        }
        if (queue.isEmpty()) {
          sink.flush();
        }
        warned = false;
      } catch (IOException | UncheckedIOException e) {
        if (!warned) {
          log.warn("access log: writing failed, lines are lost until it works again (check the sink's disk/pipe)", e);
          warned = true;
        }
      }
      if ((closed || Thread.currentThread().isInterrupted()) && queue.isEmpty()) {
        return;
      }
    }
  }

  /** Writes what is queued (waiting a few seconds at most) and closes a file sink. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      writer.join(CLOSE_TIMEOUT_MILLIS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (writer.isAlive()) {
      log.warn("access log: {} queued lines not written within {} ms of closing", queue.size(), CLOSE_TIMEOUT_MILLIS);
      return;
    }
    if (closeSink) {
      try {
        sink.close();
      } catch (IOException e) {
        log.warn("access log: closing the sink failed", e);
      }
    }
  }
}
