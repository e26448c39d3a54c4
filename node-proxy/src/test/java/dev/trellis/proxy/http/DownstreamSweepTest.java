package dev.trellis.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.embedded.EmbeddedChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** One sweep per event loop on frozen time: it runs only while something is watched, and checks every watched entry. */
class DownstreamSweepTest {

  private static final long PERIOD = TimeUnit.SECONDS.toNanos(1);

  private final EmbeddedChannel loop = new EmbeddedChannel();
  private final AtomicLong now = new AtomicLong(1_000_000_000L);
  private final DownstreamSweep sweep = new DownstreamSweep(loop.eventLoop(), now::get);
  private final List<String> checked = new ArrayList<>();

  DownstreamSweepTest() {
    loop.freezeTime();
  }

  @AfterEach
  void finish() {
    assertThat(loop.finishAndReleaseAll()).isFalse();
  }

  @Test
  void theTaskRunsOnlyWhileSomethingIsWatched() {
    assertThat(sweep.running()).isFalse();
    Entry a = new Entry("a");
    sweep.add(a, PERIOD);
    assertThat(sweep.running()).isTrue();
    sweep.remove(a);
    assertThat(sweep.running()).isFalse();
    assertThat(sweep.size()).isZero();
    pass(PERIOD * 3);
    assertThat(checked).isEmpty();
  }

  @Test
  void everyWatchedEntryIsCheckedEachPeriodWithTheTickersTime() {
    Entry a = new Entry("a");
    Entry b = new Entry("b");
    Entry c = new Entry("c");
    sweep.add(a, PERIOD);
    sweep.add(b, PERIOD);
    sweep.add(c, PERIOD);
    pass(PERIOD - 1);
    assertThat(checked).isEmpty();
    pass(1);
    assertThat(checked).containsExactlyInAnyOrder("a", "b", "c");
    assertThat(a.lastNow).isEqualTo(now.get());
  }

  @Test
  void removingFromTheMiddleKeepsTheOthersWatched() {
    Entry a = new Entry("a");
    Entry b = new Entry("b");
    Entry c = new Entry("c");
    sweep.add(a, PERIOD);
    sweep.add(b, PERIOD);
    sweep.add(c, PERIOD);
    sweep.remove(a);
    sweep.remove(a); // twice: nothing
    assertThat(a.slot()).isEqualTo(-1);
    assertThat(sweep.size()).isEqualTo(2);
    pass(PERIOD);
    assertThat(checked).containsExactlyInAnyOrder("b", "c");
  }

  @Test
  void anEntryThatLeavesDuringItsCheckDoesNotHideAnother() {
    Entry a = new Entry("a");
    Entry b = new Entry("b");
    Entry c = new Entry("c");
    for (Entry e : List.of(a, b, c)) {
      e.leaveOnCheck = true;
      sweep.add(e, PERIOD);
    }
    pass(PERIOD);
    assertThat(checked).containsExactlyInAnyOrder("a", "b", "c");
    assertThat(sweep.size()).isZero();
    assertThat(sweep.running()).isFalse();
  }

  @Test
  void aShorterPeriodTakesOverAndTheLongestDefaultReturnsOnceEmpty() {
    Entry a = new Entry("a");
    Entry b = new Entry("b");
    sweep.add(a, PERIOD * 4);
    sweep.add(b, PERIOD);
    pass(PERIOD);
    assertThat(checked).containsExactlyInAnyOrder("a", "b");
  }

  @Test
  void thePeriodIsAQuarterOfTheShortestLimitAndAtLeastTenMilliseconds() {
    HttpLimits limits = new HttpLimits(Duration.ofSeconds(30), Duration.ofHours(1));
    assertThat(DownstreamSweep.periodFor(limits)).isEqualTo(Duration.ofMillis(3750).toNanos()); // first byte 15 s
    assertThat(DownstreamSweep.periodFor(limits.withFirstByteTimeout(Duration.ofMillis(1))))
        .isEqualTo(DownstreamSweep.MIN_PERIOD_NANOS);
    assertThat(DownstreamSweep.periodFor(new HttpLimits(Duration.ofSeconds(2), Duration.ofHours(1))))
        .isEqualTo(Duration.ofMillis(500).toNanos());
  }

  private void pass(long nanos) {
    now.addAndGet(nanos);
    loop.advanceTimeBy(nanos, TimeUnit.NANOSECONDS);
    loop.runScheduledPendingTasks();
  }

  private final class Entry implements DownstreamSweep.Watched {
    final String name;
    boolean leaveOnCheck;
    long lastNow;
    int slot = -1;

    Entry(String name) {
      this.name = name;
    }

    @Override
    public void check(long now) {
      checked.add(name);
      lastNow = now;
      if (leaveOnCheck) {
        sweep.remove(this);
      }
    }

    @Override
    public int slot() {
      return slot;
    }

    @Override
    public void slot(int slot) {
      this.slot = slot;
    }
  }
}
