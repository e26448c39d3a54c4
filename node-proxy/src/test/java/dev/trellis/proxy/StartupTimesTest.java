package dev.trellis.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class StartupTimesTest {

  private static final Instant MAIN = Instant.parse("2026-12-07T10:00:00.190Z");

  @Test
  void theLineSplitsProcessStartToReadyAtMain() {
    var times = new StartupTimes(Optional.of(Instant.parse("2026-12-07T10:00:00Z")), MAIN,
        Instant.parse("2026-12-07T10:00:00.812Z"));

    assertThat(times.describe())
        .isEqualTo("ready after 812 ms (process start to main 190 ms, main to ready 622 ms)");
  }

  @Test
  void withoutTheProcessStartTheLineCountsFromMainAndSaysSo() {
    var times = new StartupTimes(Optional.empty(), MAIN, Instant.parse("2026-12-07T10:00:01.190Z"));

    assertThat(times.describe()).isEqualTo("ready after 1000 ms from main (the process's start time is unknown here)");
  }

  @Test
  void aProcessStartAfterMainCountsAsMain() {
    var times = new StartupTimes(Optional.of(MAIN.plusMillis(5)), MAIN, MAIN.plusMillis(300));

    assertThat(times.describe()).isEqualTo("ready after 300 ms (process start to main 0 ms, main to ready 300 ms)");
  }

  @Test
  void theRealProcessHasAStartBeforeNow() {
    Instant now = Instant.now();
    var times = StartupTimes.ofThisProcess(now, now.plusMillis(1));

    assertThat(times.processStart()).hasValueSatisfying(start -> assertThat(start).isBefore(now));
    assertThat(times.describe()).startsWith(StartupTimes.READY + " ");
  }
}
