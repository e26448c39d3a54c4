package dev.trellis.proxy.route;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.proxy.route.RouteTable.WeightedCluster;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class WeightedSplitTest {

  @Test
  void ticketsMapToClustersInProportion() {
    List<WeightedCluster> split = List.of(new WeightedCluster("a", 80), new WeightedCluster("b", 20),
        new WeightedCluster("off", 0));
    Map<String, Integer> counts = new HashMap<>();
    for (int t = 0; t < 100; t++) {
      counts.merge(WeightedSplit.pick(split, t), 1, Integer::sum);
    }
    assertThat(counts).containsExactlyInAnyOrderEntriesOf(Map.of("a", 80, "b", 20));
    assertThatThrownBy(() -> WeightedSplit.pick(split, 100)).hasMessage("ticket: 100 (expected: 0..99)");
    assertThat(WeightedSplit.pick(List.of(new WeightedCluster("only", 5)), 3)).isEqualTo("only");
  }
}
