package dev.trellis.proxy.resilience;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trellis.proxy.state.ClusterSpec;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class OutlierStateTest {

  private static final long S = 1_000_000_000L;
  private static final ClusterSpec.Outlier POLICY = new ClusterSpec.Outlier(3, Duration.ofSeconds(10),
      Duration.ofSeconds(30), 50);

  private static OutlierState fail(OutlierState s, int times, long now) {
    for (int i = 0; i < times; i++) {
      s = s.next(POLICY, true, now, 0, 4);
    }
    return s;
  }

  @Test
  void consecutiveFailuresEjectForTheBaseTime() {
    OutlierState s = fail(OutlierState.HEALTHY, 2, 100 * S);
    assertFalse(s.ejectedAt(100 * S));
    s = fail(s, 1, 100 * S);
    assertTrue(s.ejectedAt(100 * S));
    assertTrue(s.ejectedAt(129 * S));
    assertFalse(s.ejectedAt(130 * S), "back in service after base_ejection_time");
    assertEquals(1, s.ejections());
  }

  @Test
  void aSuccessResetsTheRun() {
    OutlierState s = fail(OutlierState.HEALTHY, 2, S);
    s = s.next(POLICY, false, S, 0, 4);
    s = fail(s, 2, S);
    assertFalse(s.ejectedAt(S));
    assertSame(OutlierState.HEALTHY, OutlierState.HEALTHY.next(POLICY, false, S, 0, 4), "success on a clean state allocates nothing");
  }

  @Test
  void ejectionTimeGrowsWithRepeatedEjectionsAndDecaysWhenHealthy() {
    OutlierState s = fail(OutlierState.HEALTHY, 3, 0);
    assertEquals(30 * S, s.ejectedUntil());
    s = fail(s, 3, 31 * S); // failing again right after returning: 2 x 30 s
    assertEquals(2, s.ejections());
    assertEquals(31 * S + 60 * S, s.ejectedUntil());
    long back = s.ejectedUntil();
    s = fail(s, 3, back + 25 * S); // two healthy intervals (10 s) since return: count 2 -> 0, then +1
    assertEquals(1, s.ejections());
    assertEquals(back + 25 * S + 30 * S, s.ejectedUntil());
  }

  @Test
  void ejectionTimeIsCappedAtFiveMinutes() {
    OutlierState s = new OutlierState(2, 1, 20);
    s = s.next(POLICY, true, 2, 0, 4);
    assertEquals(2 + OutlierState.MAX_EJECTION_NANOS, s.ejectedUntil());
  }

  @Test
  void maxEjectionPercentKeepsHostsInServiceButOneCanAlwaysGo() {
    // 50% of 4 hosts: with 2 already out a third may not go.
    OutlierState s = new OutlierState(2, 0, 0).next(POLICY, true, S, 2, 4);
    assertFalse(s.ejectedAt(S));
    assertEquals(3, s.consecutive());
    // 10% of 2 hosts is less than one host, yet the first may go.
    ClusterSpec.Outlier tight = new ClusterSpec.Outlier(1, Duration.ofSeconds(10), Duration.ofSeconds(30), 10);
    assertTrue(OutlierState.HEALTHY.next(tight, true, S, 0, 2).ejectedAt(S));
    assertFalse(OutlierState.HEALTHY.next(tight, true, S, 1, 2).ejectedAt(S));
  }

  @Test
  void failuresWhileEjectedDoNotExtendTheEjection() {
    OutlierState s = fail(OutlierState.HEALTHY, 3, 0);
    OutlierState later = fail(s, 5, 10 * S);
    assertEquals(s.ejectedUntil(), later.ejectedUntil());
  }

  @Test
  void noPolicyMeansNoChange() {
    assertSame(OutlierState.HEALTHY, OutlierState.HEALTHY.next(null, true, S, 0, 1));
  }
}
