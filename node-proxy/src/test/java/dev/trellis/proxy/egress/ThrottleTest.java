package dev.trellis.proxy.egress;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ThrottleTest {

  @Test
  void onePermitPerPeriodAndTheRestCounted() {
    AtomicLong now = new AtomicLong(-5_000); // nanoTime may be negative
    Throttle t = new Throttle(now::get, Duration.ofSeconds(10));
    assertThat(t.tryAcquire()).isTrue();
    assertThat(t.tryAcquire()).isFalse();
    now.addAndGet(Duration.ofSeconds(9).toNanos());
    assertThat(t.tryAcquire()).isFalse();
    now.addAndGet(Duration.ofSeconds(1).toNanos());
    assertThat(t.tryAcquire()).isTrue();
    assertThat(t.takeSuppressed()).isEqualTo(2);
    assertThat(t.takeSuppressed()).isZero();
  }
}
