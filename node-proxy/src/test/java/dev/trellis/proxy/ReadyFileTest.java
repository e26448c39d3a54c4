package dev.trellis.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReadyFileTest {

  @TempDir Path dir;

  @Test
  void thePidIsWrittenOnlyOnceTheProxyIsReadyAndThenTheChecksStop() throws Exception {
    ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    try {
      AtomicBoolean ready = new AtomicBoolean();
      AtomicInteger checks = new AtomicInteger();
      Path file = dir.resolve("run/node-1.ready");
      var written = ReadyFile.firstReady(() -> {
        checks.incrementAndGet();
        return ready.get();
      }, Clock.systemUTC(), scheduler, Duration.ofMillis(5)).thenApply(at -> ReadyFile.write(file, 4242));
      while (checks.get() < 3) {
        Thread.onSpinWait();
      }
      assertThat(file).doesNotExist();
      ready.set(true);
      assertThat(written.get(5, TimeUnit.SECONDS)).isEqualTo(file);
      assertThat(Files.readString(file, StandardCharsets.UTF_8)).isEqualTo("4242\n");
      int after = checks.get();
      scheduler.schedule(() -> { }, 50, TimeUnit.MILLISECONDS).get();
      assertThat(checks.get()).as("checks after the file was written").isLessThanOrEqualTo(after + 1);
    } finally {
      scheduler.shutdownNow();
    }
  }
}
