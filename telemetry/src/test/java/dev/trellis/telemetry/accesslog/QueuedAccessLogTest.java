package dev.trellis.telemetry.accesslog;

import static dev.trellis.telemetry.accesslog.AccessLogJsonTest.request;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.trellis.telemetry.config.TelemetrySettings.AccessLogSettings;
import dev.trellis.telemetry.accesslog.QueuedAccessLog.SinkOwnership;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

class QueuedAccessLogTest {

  /** Collects what the writer thread writes; thread-safe. */
  static final class Collecting extends OutputStream {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

    @Override
    public synchronized void write(int b) {
      bytes.write(b);
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) {
      bytes.write(b, off, len);
    }

    synchronized List<String> lines() {
      return bytes.toString(StandardCharsets.UTF_8).lines().toList();
    }
  }

  private static AccessLogEntry failure(Integer status, Integer grpcStatus, String flags, String error) {
    return new AccessLogEntry(Instant.EPOCH, 1, null, null, "outbound", "gRPC", "POST", "a", "/p", status, grpcStatus,
        flags, 0, 0, null, null, 1, null, null, null, null, null, true, error);
  }

  @Test
  void samplingZeroStillLogsEveryKindOfFailure() {
    Collecting sink = new Collecting();
    QueuedAccessLog log = new QueuedAccessLog(sink, SinkOwnership.LEAVE_OPEN, 0, 64, () -> 0.0);
    log.log(request(200, "/ok"));
    log.log(request(404, "/missing"));
    log.log(request(503, "/unavailable"));
    log.log(failure(200, 14, null, null));
    log.log(failure(200, 0, "UO", null));
    log.log(failure(null, null, null, "upstream connect error"));
    log.log(failure(200, 0, null, null));
    log.close();
    assertThat(sink.lines()).hasSize(4)
        .anySatisfy(l -> assertThat(l).contains("\"status\":503"))
        .anySatisfy(l -> assertThat(l).contains("\"grpcStatus\":14"))
        .anySatisfy(l -> assertThat(l).contains("\"responseFlags\":\"UO\""))
        .anySatisfy(l -> assertThat(l).contains("\"error\":\"upstream connect error\""));
    assertThat(log.dropped()).isZero();
  }

  @Test
  void samplingKeepsEntriesWhoseDrawFallsUnderTheRatio() {
    Collecting sink = new Collecting();
    double[] draws = {0.1, 0.9, 0.3, 0.5};
    int[] next = {0};
    QueuedAccessLog log = new QueuedAccessLog(sink, SinkOwnership.LEAVE_OPEN, 0.4, 64, () -> draws[next[0]++]);
    for (int i = 0; i < draws.length; i++) {
      log.log(request(200, "/" + i));
    }
    log.close();
    assertThat(sink.lines()).hasSize(2)
        .satisfiesExactly(l -> assertThat(l).contains("\"path\":\"/0\""), l -> assertThat(l).contains("\"path\":\"/2\""));
  }

  @Test
  @Timeout(30) // a guard for a regression that blocks; the assertions are on counts
  void aFullQueueDropsAndCountsWhileTheSinkIsStuck() throws Exception {
    CountDownLatch writing = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Collecting written = new Collecting();
    OutputStream stuck = new OutputStream() {
      @Override
      public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
      }

      @Override
      public void write(byte[] b, int off, int len) {
        writing.countDown();
        try {
          release.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        written.write(b, off, len);
      }
    };
    int capacity = 8;
    QueuedAccessLog log = new QueuedAccessLog(stuck, SinkOwnership.LEAVE_OPEN, 1, capacity, () -> 0.0);
    log.log(request(200, "/first"));
    assertThat(writing.await(10, TimeUnit.SECONDS)).isTrue(); // the writer holds /first, inside the sink

    for (int i = 0; i < capacity + 100; i++) {
      log.log(request(200, "/" + i));
    }
    assertThat(log.dropped()).isEqualTo(100);

    release.countDown();
    log.close();
    assertThat(written.lines()).hasSize(1 + capacity);
  }

  @Test
  void closeWritesWhatIsQueued() {
    Collecting sink = new Collecting();
    QueuedAccessLog log = new QueuedAccessLog(sink, SinkOwnership.LEAVE_OPEN, 1, 8192, () -> 0.0);
    for (int i = 0; i < 1000; i++) {
      log.log(request(200, "/" + i));
    }
    log.close();
    assertThat(sink.lines()).hasSize(1000);
    log.log(request(500, "/after-close"));
    assertThat(sink.lines()).hasSize(1000);
  }

  @Test
  void aFileSinkIsCreatedAndAppendedTo(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("logs/access.jsonl");
    AccessLog first = AccessLog.create(new AccessLogSettings(file.toString(), 1));
    first.log(request(200, "/one"));
    first.close();
    AccessLog second = AccessLog.create(new AccessLogSettings(file.toString(), 1));
    second.log(request(200, "/two"));
    second.close();
    assertThat(Files.readAllLines(file)).hasSize(2)
        .satisfiesExactly(l -> assertThat(l).contains("/one"), l -> assertThat(l).contains("/two"));
  }

  @Test
  void linesAreWrittenWithoutWaitingForClose() {
    Collecting sink = new Collecting();
    QueuedAccessLog log = new QueuedAccessLog(sink, SinkOwnership.LEAVE_OPEN, 1, 64, () -> 0.0);
    try {
      log.log(request(200, "/live"));
      await().atMost(10, TimeUnit.SECONDS).until(() -> sink.lines().size() == 1);
    } finally {
      log.close();
    }
  }

  @Test
  void noSinkMeansOff() {
    assertThat(AccessLog.create(AccessLogSettings.off()).dropped()).isZero();
    assertThat(AccessLog.create(AccessLogSettings.off())).isNotInstanceOf(QueuedAccessLog.class);
    assertThat(AccessLog.create(AccessLogSettings.off()).enabled()).as("callers skip building entries").isFalse();
  }
}
