package dev.trellis.telemetry.accesslog;

/**
 * Where access-log lines go: a bounded queue drained by one writer thread, so a slow disk never slows traffic (lines
 * beyond the queue are dropped and counted). Sampling decides per entry; failed requests are always kept.
 */
public interface AccessLog extends AutoCloseable {

  /** Queues {@code entry} if sampled; never blocks. */
  void log(AccessLogEntry entry);

  /** Lines dropped because the queue was full. */
  long dropped();

  @Override
  void close();

  /** Logs nothing. */
  static AccessLog off() {
    return new AccessLog() {
      @Override
      public void log(AccessLogEntry entry) {}

      @Override
      public long dropped() {
        return 0;
      }

      @Override
      public void close() {}
    };
  }
}
