package dev.trellis.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.it.ChaosSchedule.Action;
import dev.trellis.it.ChaosSchedule.Kind;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class ChaosScheduleTest {

  private static final List<String> NODES = List.of("node-1", "node-2");

  @ParameterizedTest(name = "{0} s, warm-up {1} s, cool-down {2} s")
  @CsvSource({"150, 20, 20", "1800, 60, 60", "40, 10, 10"})
  void everyActionOfTheIssueFallsBetweenWarmUpAndCoolDownInTimeOrder(long length, long warmUp, long coolDown) {
    ChaosSchedule s = ChaosSchedule.plan(Duration.ofSeconds(length), Duration.ofSeconds(warmUp),
        Duration.ofSeconds(coolDown), NODES, 3, 2, 20);
    assertThat(s.count(Kind.KILL_CONTROL_PLANE)).isEqualTo(3);
    assertThat(s.count(Kind.UPGRADE_NODE_PROXY)).isEqualTo(4);
    assertThat(s.count(Kind.RESTART_NODE_AGENT)).isEqualTo(2);
    assertThat(s.count(Kind.FLIP_SPLIT)).isEqualTo(20);
    assertThat(s.actions()).extracting(Action::at).isSorted()
        .allSatisfy(at -> assertThat(at).isBetween(Duration.ofSeconds(warmUp), Duration.ofSeconds(length - coolDown)));
    assertThat(s.actions().getFirst()).isEqualTo(new Action(Duration.ofSeconds(warmUp), Kind.UPGRADE_NODE_PROXY,
        "node-1"));
    assertThat(s.actions().getLast().at()).isEqualTo(Duration.ofSeconds(length - coolDown));
  }

  @Test
  void disruptiveActionsTakeTurnsAndEachNodeIsUpgradedTwiceAndHasItsAgentRestartedOnce() {
    ChaosSchedule s = ChaosSchedule.plan(Duration.ofSeconds(150), Duration.ofSeconds(20), Duration.ofSeconds(20),
        NODES, 3, 2, 20);
    assertThat(s.actions().stream().filter(a -> a.kind() != Kind.FLIP_SPLIT).map(a -> a.kind() + " " + a.target()))
        .containsExactly("UPGRADE_NODE_PROXY node-1", "KILL_CONTROL_PLANE control-plane", "RESTART_NODE_AGENT node-1",
            "UPGRADE_NODE_PROXY node-2", "KILL_CONTROL_PLANE control-plane", "RESTART_NODE_AGENT node-2",
            "UPGRADE_NODE_PROXY node-1", "KILL_CONTROL_PLANE control-plane", "UPGRADE_NODE_PROXY node-2");
    // Evenly spread: 9 actions over 110 s, one every 13.75 s.
    assertThat(s.actions().stream().filter(a -> a.kind() != Kind.FLIP_SPLIT).map(a -> a.at().toMillis()))
        .containsExactly(20_000L, 33_750L, 47_500L, 61_250L, 75_000L, 88_750L, 102_500L, 116_250L, 130_000L);
  }

  @Test
  void flipsAlternateTheSplitWithWeightsNoOtherFlipUsesAndFallBetweenTheOtherActions() {
    ChaosSchedule s = ChaosSchedule.plan(Duration.ofSeconds(150), Duration.ofSeconds(20), Duration.ofSeconds(20),
        NODES, 3, 2, 20);
    List<Action> flips = s.actions().stream().filter(a -> a.kind() == Kind.FLIP_SPLIT).toList();
    assertThat(flips).extracting(Action::target).startsWith("95/5", "6/94", "93/7").endsWith("24/76");
    assertThat(flips.stream().flatMap(f -> Stream.of(f.target().split("/")))).doesNotHaveDuplicates()
        .doesNotContain("50");
    assertThat(flips.getFirst().at()).isEqualTo(Duration.ofMillis(20_000 + 2_750));
    assertThat(flips.getLast().at()).isEqualTo(Duration.ofMillis(20_000 + 107_250));
  }

  @Test
  void aLengthThatLeavesNoTimeBetweenWarmUpAndCoolDownIsRefused() {
    assertThatThrownBy(() -> ChaosSchedule.plan(Duration.ofSeconds(30), Duration.ofSeconds(20), Duration.ofSeconds(10),
        NODES, 3, 2, 20)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("length PT30S (expected: longer than warm-up PT20S plus cool-down PT10S)");
  }
}
