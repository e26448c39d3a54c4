package dev.trellis.mtls.refusal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.mtls.testing.ManualClock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class RefusalLogTest {

  final ManualClock clock = new ManualClock(Instant.parse("2025-01-01T00:00:00Z"));
  final List<String> lines = new ArrayList<>();
  final RefusalLog log = new RefusalLog(lines::add, Duration.ofSeconds(10), clock);

  @Test
  void aThousandRefusalsForOneReasonLogOneLineAndCountAThousand() {
    for (int i = 0; i < 1000; i++) {
      log.refuse("xds", "unauthenticated", "bad token " + i);
    }
    assertThat(lines).containsExactly("refused xds request (unauthenticated): bad token 0");
    assertThat(log.count("xds", "unauthenticated")).isEqualTo(1000);
  }

  @Test
  void theNextLineAfterTheIntervalSaysHowManyWereLeftOut() {
    for (int i = 0; i < 5; i++) {
      log.refuse("ca", "not_authorized", "x");
    }
    clock.advance(Duration.ofSeconds(10));
    log.refuse("ca", "not_authorized", "y");
    assertThat(lines).containsExactly("refused ca request (not_authorized): x",
        "refused ca request (not_authorized): y [4 more refused for this reason since the last line]");
  }

  @Test
  void eachReasonHasItsOwnLineAndCounter() {
    log.refuse("xds", "a", "1");
    log.refuse("xds", "b", "2");
    log.refuse("ca", "a", "3");
    assertThat(lines).hasSize(3);
    assertThat(log.counts()).containsExactly(
        java.util.Map.entry(new RefusalLog.Key("ca", "a"), 1L),
        java.util.Map.entry(new RefusalLog.Key("xds", "a"), 1L),
        java.util.Map.entry(new RefusalLog.Key("xds", "b"), 1L));
  }

  @Test
  void callerTextCannotForgeLinesOrGrowWithoutBound() {
    log.refuse("xds", "r", "node\nFAKE LINE\u001b[31m" + "x".repeat(10_000));
    assertThat(lines).hasSize(1);
    assertThat(lines.getFirst()).doesNotContain("\n").doesNotContain("\u001b").contains("node?FAKE LINE?[31m");
    assertThat(lines.getFirst().length()).isLessThan(RefusalLog.MAX_DETAIL + 60);
  }
}
