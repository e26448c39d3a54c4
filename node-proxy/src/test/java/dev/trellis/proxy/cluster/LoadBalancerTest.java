package dev.trellis.proxy.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trellis.proxy.state.ClusterSpec;
import dev.trellis.proxy.state.ClusterSpec.LbAlgorithm;
import dev.trellis.proxy.state.EndpointSpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.LongUnaryOperator;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class LoadBalancerTest {

  private static final ClusterSpec.Outlier EJECT_ON_FIRST = new ClusterSpec.Outlier(1, Duration.ofSeconds(10),
      Duration.ofSeconds(30), 100);

  static Host host(int i, int weight) {
    return new Host(new EndpointSpec("10.0.0." + i, 8080, null, null, null, false, "w" + i, null, weight));
  }

  static List<Host> hosts(int n) {
    return IntStream.rangeClosed(1, n).mapToObj(i -> host(i, 1)).toList();
  }

  static LongUnaryOperator seeded(long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    return bound -> r.nextLong(bound);
  }

  static void eject(Host h) {
    h.record(EJECT_ON_FIRST, true, 0, () -> 0, 10);
  }

  @Test
  void roundRobinCyclesByWeight() {
    List<Host> hs = List.of(host(1, 1), host(2, 2));
    LoadBalancer lb = LoadBalancer.of(LbAlgorithm.ROUND_ROBIN, hs);
    List<String> picks = new ArrayList<>();
    for (long c = 0; c < 6; c++) {
      picks.add(lb.pick(LoadBalancer.Input.of(0, c, seeded(1))).key());
    }
    assertEquals(List.of("10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.2:8080", "10.0.0.1:8080", "10.0.0.2:8080",
        "10.0.0.2:8080"), picks);
  }

  @ParameterizedTest
  @EnumSource(LbAlgorithm.class)
  void everyAlgorithmSkipsEjectedHostsAndAvoidsTriedOnes(LbAlgorithm algorithm) {
    List<Host> hs = hosts(4);
    LoadBalancer lb = LoadBalancer.of(algorithm, hs);
    eject(hs.get(0));
    LongUnaryOperator rnd = seeded(7);
    for (int i = 0; i < 200; i++) {
      LoadBalancer.Input in = LoadBalancer.Input.of(0, i, rnd).hashed(i * 0x9E3779B97F4A7C15L);
      Host h = lb.pick(in);
      assertNotEquals(hs.get(0), h, "ejected host picked");
      Host retry = lb.pick(in.avoiding(List.of(h)));
      assertNotEquals(h, retry, "retry went back to the host that failed");
    }
  }

  @ParameterizedTest
  @EnumSource(LbAlgorithm.class)
  void panicModeUsesEveryHostWhenMostAreEjected(LbAlgorithm algorithm) {
    List<Host> hs = hosts(4);
    LoadBalancer lb = LoadBalancer.of(algorithm, hs);
    eject(hs.get(0));
    eject(hs.get(1));
    eject(hs.get(2));
    Map<Host, Integer> seen = new HashMap<>();
    LongUnaryOperator rnd = seeded(3);
    for (int i = 0; i < 400; i++) {
      seen.merge(lb.pick(LoadBalancer.Input.of(0, i, rnd).hashed(rnd.applyAsLong(Long.MAX_VALUE))), 1, Integer::sum);
    }
    assertEquals(4, seen.size(), "with 1 of 4 healthy (< 50%) all hosts share the load: " + seen);
  }

  @ParameterizedTest
  @EnumSource(LbAlgorithm.class)
  void triedHostsAreReusedWhenNoOtherRemains(LbAlgorithm algorithm) {
    List<Host> hs = hosts(1);
    LoadBalancer lb = LoadBalancer.of(algorithm, hs);
    assertSame(hs.getFirst(), lb.pick(LoadBalancer.Input.of(0, 0, seeded(1)).avoiding(hs)));
    assertNull(LoadBalancer.of(algorithm, List.of()).pick(LoadBalancer.Input.of(0, 0, seeded(1))));
  }

  @Test
  void leastRequestPrefersTheLessBusyOfTwo() {
    List<Host> hs = hosts(2);
    for (int i = 0; i < 5; i++) {
      hs.get(0).requestStarted();
    }
    LoadBalancer lb = LoadBalancer.of(LbAlgorithm.LEAST_REQUEST, hs);
    long[] draws = {0, 1}; // first draw host 1, second host 2
    int[] n = {0};
    assertSame(hs.get(1), lb.pick(LoadBalancer.Input.of(0, 0, bound -> draws[n[0]++ % 2])));
    // Over many random picks the idle host takes most requests (it wins whenever it is drawn).
    LongUnaryOperator rnd = seeded(11);
    long idle = IntStream.range(0, 1000).filter(i -> lb.pick(LoadBalancer.Input.of(0, i, rnd)) == hs.get(1)).count();
    assertTrue(idle > 700, "idle host picked " + idle + "/1000 (expected ~750)");
  }

  @ParameterizedTest
  @EnumSource(value = LbAlgorithm.class, names = {"RING_HASH", "MAGLEV"})
  void consistentHashingIsStickyAndMovesOnlyTheRemovedHostsKeys(LbAlgorithm algorithm) {
    List<Host> hs = hosts(5);
    LoadBalancer full = LoadBalancer.of(algorithm, hs);
    LoadBalancer less = LoadBalancer.of(algorithm, hs.subList(0, 4));
    LongUnaryOperator rnd = seeded(5);
    int moved = 0; // keys whose host stayed but which went elsewhere
    int keys = 2000;
    Map<Host, Integer> share = new HashMap<>();
    for (int k = 0; k < keys; k++) {
      long h = Hashing.hash("user-" + k);
      Host a = full.pick(LoadBalancer.Input.of(0, k, rnd).hashed(h));
      assertSame(a, full.pick(LoadBalancer.Input.of(0, k + 1, rnd).hashed(h)), "same key, same host");
      share.merge(a, 1, Integer::sum);
      Host b = less.pick(LoadBalancer.Input.of(0, k, rnd).hashed(h));
      if (a != hs.get(4)) {
        if (a != b) {
          moved++;
        }
      }
    }
    // The ring moves none of them; Maglev's table trades a little disruption for even spread.
    int allowed = algorithm == LbAlgorithm.RING_HASH ? 0 : keys / 20;
    assertTrue(moved <= allowed, moved + " keys of the remaining hosts moved (allowed " + allowed + ")");
    for (int count : share.values()) {
      assertTrue(count > keys / 5 / 2 && count < keys / 5 * 2, "uneven share " + share);
    }
  }

  @Test
  void ringSizeFollowsWeights() {
    RingHash ring = new RingHash(List.of(host(1, 1), host(2, 3)));
    assertEquals(4 * RingHash.POINTS_PER_WEIGHT, ring.ringSize());
    LongUnaryOperator rnd = seeded(9);
    long heavy = IntStream.range(0, 4000)
        .filter(k -> ring.pick(LoadBalancer.Input.of(0, k, rnd).hashed(Hashing.hash("k" + k))).key().startsWith("10.0.0.2"))
        .count();
    assertTrue(heavy > 2600 && heavy < 3400, "weight 3 of 4 took " + heavy + "/4000");
  }

  @Test
  void hashlessRequestsSpreadRandomly() {
    List<Host> hs = hosts(3);
    LoadBalancer lb = LoadBalancer.of(LbAlgorithm.MAGLEV, hs);
    Map<Host, Integer> seen = new HashMap<>();
    LongUnaryOperator rnd = seeded(2);
    for (int i = 0; i < 300; i++) {
      seen.merge(lb.pick(LoadBalancer.Input.of(0, 0, rnd)), 1, Integer::sum);
    }
    assertEquals(3, seen.size());
  }
}
