package dev.trellis.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.embedded.EmbeddedChannel;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The request-body clock on frozen time: it counts only while the proxy waits for the client, and fires once. */
class RequestBodyTimerTest {

  private static final long TIMEOUT = Duration.ofSeconds(30).toNanos();

  private final EmbeddedChannel ch = new EmbeddedChannel();
  private final AtomicLong now = new AtomicLong(1_000_000_000L);
  private final AtomicInteger stalls = new AtomicInteger();
  private final RequestBodyTimer timer = new RequestBodyTimer(ch.eventLoop(), now::get,
      HttpLimits.DEFAULTS.withRequestBodyTimeout(Duration.ofNanos(TIMEOUT)), stalls::incrementAndGet);

  @AfterEach
  void finish() {
    assertThat(ch.finishAndReleaseAll()).isFalse();
  }

  @ParameterizedTest
  @CsvSource({
      "0, 0, 30, 30",
      "0, 29, 30, 1",
      "0, 30, 30, 0",
      "0, 45, 30, -15",
      "10, 20, 30, 20",
  })
  void remainingIsTheTimeoutLessWhatTheWaitLasted(long since, long now, long timeout, long expected) {
    assertThat(RequestBodyTimer.remaining(since, now, timeout)).isEqualTo(expected);
  }

  @Test
  void aClientSilentForTheWholeTimeoutStallsOnce() {
    timer.reading();
    advance(TIMEOUT - 1);
    assertThat(stalls).hasValue(0);
    advance(1);
    assertThat(stalls).hasValue(1);
    timer.reading();
    advance(TIMEOUT * 3);
    assertThat(stalls).as("fires once; the exchange is over then").hasValue(1);
  }

  @Test
  void bytesRestartTheClock() {
    timer.reading();
    advance(TIMEOUT / 2);
    timer.received();
    timer.reading();
    advance(TIMEOUT / 2 + 1);
    assertThat(stalls).as("only half the timeout since the last bytes").hasValue(0);
    advance(TIMEOUT / 2);
    assertThat(stalls).hasValue(1);
  }

  @Test
  void timeTheProxyIsNotReadingDoesNotCount() {
    timer.reading();
    timer.received(); // and the proxy does not ask again: the upstream is slow to take the body
    advance(TIMEOUT * 10);
    assertThat(stalls).hasValue(0);
  }

  @Test
  void stopCancelsTheTimer() {
    timer.reading();
    timer.stop();
    advance(TIMEOUT * 2);
    assertThat(stalls).hasValue(0);
  }

  private void advance(long nanos) {
    now.addAndGet(nanos);
    ch.advanceTimeBy(nanos, TimeUnit.NANOSECONDS);
    ch.runScheduledPendingTasks();
  }
}
