package dev.trellis.mtls.svid;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.random.RandomGenerator;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class BackoffTest {

  @Test
  void growsExponentiallyUpToTheCapWithoutJitter() {
    Backoff b = Backoff.exponential(Duration.ofSeconds(1), Duration.ofSeconds(10), 2.0, 0.0, new Random(1));
    assertThat(b.delay(1)).isEqualTo(Duration.ofSeconds(1));
    assertThat(b.delay(2)).isEqualTo(Duration.ofSeconds(2));
    assertThat(b.delay(4)).isEqualTo(Duration.ofSeconds(8));
    assertThat(b.delay(5)).isEqualTo(Duration.ofSeconds(10));
    assertThat(b.delay(1000)).isEqualTo(Duration.ofSeconds(10));
  }

  @Test
  void jitterStaysWithinItsBandAndVaries() {
    RandomGenerator random = new Random(42);
    Backoff b = Backoff.exponential(Duration.ofSeconds(10), Duration.ofSeconds(10), 2.0, 0.2, random);
    long min = Long.MAX_VALUE;
    long max = Long.MIN_VALUE;
    for (int i = 0; i < 1000; i++) {
      long ms = b.delay(1).toMillis();
      min = Math.min(min, ms);
      max = Math.max(max, ms);
    }
    assertThat(min).isGreaterThanOrEqualTo(8000);
    assertThat(max).isLessThanOrEqualTo(12000);
    assertThat(max - min).isGreaterThan(2000);
  }

  @Test
  void rejectsNonsenseParameters() {
    RandomGenerator r = new Random();
    assertThatThrownBy(() -> Backoff.exponential(Duration.ZERO, Duration.ofSeconds(1), 2, 0, r))
        .hasMessage("initial: PT0S (expected: > 0)");
    assertThatThrownBy(() -> Backoff.exponential(Duration.ofSeconds(2), Duration.ofSeconds(1), 2, 0, r))
        .hasMessageContaining("expected: >= initial");
    assertThatThrownBy(() -> Backoff.exponential(Duration.ofSeconds(1), Duration.ofSeconds(1), 0.5, 0, r))
        .hasMessage("multiplier: 0.5 (expected: >= 1.0)");
    assertThatThrownBy(() -> Backoff.exponential(Duration.ofSeconds(1), Duration.ofSeconds(1), 2, 1.0, r))
        .hasMessage("jitter: 1.0 (expected: >= 0.0 and < 1.0)");
  }

  @Test
  void onlyTheFirstThreeFailuresAndThenEveryTwentiethDeserveAWarning() {
    List<Integer> warned = IntStream.rangeClosed(1, 100).filter(Backoff::worthAWarning)
        .boxed().toList();
    assertThat(warned).containsExactly(1, 2, 3, 20, 40, 60, 80, 100);
  }
}
