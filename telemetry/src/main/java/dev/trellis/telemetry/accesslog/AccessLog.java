package dev.trellis.telemetry.accesslog;

import dev.trellis.telemetry.config.TelemetrySettings.AccessLogSettings;
import dev.trellis.telemetry.accesslog.QueuedAccessLog.SinkOwnership;
import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Where access-log lines go: a bounded queue drained by one writer thread, so a slow disk never slows traffic (lines
 * beyond the queue are dropped and counted). Sampling decides per entry; failed requests are always kept.
 */
public interface AccessLog extends AutoCloseable {

  /** Queues {@code entry} if sampled; never blocks. */
  void log(AccessLogEntry entry);

  /** Whether entries are wanted at all; callers skip building them when not ({@link #off()}). */
  default boolean enabled() {
    return true;
  }

  /** Lines dropped because the queue was full. */
  long dropped();

  @Override
  void close();

  /**
   * JSON lines to {@code settings.sink()}: {@code stdout}, {@code stderr} or a file (appended to, created with its
   * directories if missing), sampled at {@code settings.samplingRatio()} with failures always kept. No sink: {@link
   * #off()}. A sampling ratio of 0 with a sink logs failures only.
   *
   * @throws UncheckedIOException if the file cannot be opened for appending
   */
  static AccessLog create(AccessLogSettings settings) {
    String sink = settings.sink();
    if (sink == null || sink.isBlank()) {
      return off();
    }
    return switch (sink) {
      case "stdout" -> new QueuedAccessLog(new BufferedOutputStream(new FileOutputStream(FileDescriptor.out)), SinkOwnership.LEAVE_OPEN,
          settings.samplingRatio());
      case "stderr" -> new QueuedAccessLog(new BufferedOutputStream(new FileOutputStream(FileDescriptor.err)), SinkOwnership.LEAVE_OPEN,
          settings.samplingRatio());
      default -> new QueuedAccessLog(openAppending(Path.of(sink)), SinkOwnership.CLOSE_WITH_LOG,
          settings.samplingRatio());
    };
  }

  private static OutputStream openAppending(Path file) {
    try {
      Path parent = file.toAbsolutePath().getParent();
      if (parent != null) {
        Files.createDirectories(parent);
      }
      return new BufferedOutputStream(Files.newOutputStream(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND,
          StandardOpenOption.WRITE), 64 * 1024);
    } catch (IOException e) {
      throw new UncheckedIOException("access log: cannot open " + file + " for appending (check the path and that"
          + " this process may write there)", e);
    }
  }

  /** Logs nothing. */
  static AccessLog off() {
    return new AccessLog() {
      @Override
      public void log(AccessLogEntry entry) {}

      @Override
      public boolean enabled() {
        return false;
      }

      @Override
      public long dropped() {
        return 0;
      }

      @Override
      public void close() {}
    };
  }
}
