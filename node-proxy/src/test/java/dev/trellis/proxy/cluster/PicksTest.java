package dev.trellis.proxy.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.proxy.route.RouteTable.WeightedCluster;
import dev.trellis.proxy.state.EndpointSpec;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PicksTest {

  @Test
  void weightedTicketsMapToClustersInProportion() {
    List<WeightedCluster> split = List.of(new WeightedCluster("a", 80), new WeightedCluster("b", 20),
        new WeightedCluster("off", 0));
    Map<String, Integer> counts = new HashMap<>();
    for (int t = 0; t < 100; t++) {
      counts.merge(Picks.weighted(split, t), 1, Integer::sum);
    }
    assertThat(counts).containsExactlyInAnyOrderEntriesOf(Map.of("a", 80, "b", 20));
    assertThatThrownBy(() -> Picks.weighted(split, 100)).hasMessage("ticket: 100 (expected: 0..99)");
    assertThat(Picks.weighted(List.of(new WeightedCluster("only", 5)), 3)).isEqualTo("only");
  }

  @Test
  void roundRobinCyclesAndHonoursEndpointWeights() {
    EndpointSpec a = new EndpointSpec("10.0.0.1", 80, null, null, null, false, null, null, 1);
    EndpointSpec b = new EndpointSpec("10.0.0.2", 80, null, null, null, false, null, null, 2);
    assertThat(List.of(0L, 1L, 2L, 3L, 4L, 5L).stream().map(c -> Picks.roundRobin(List.of(a, b), c).address()))
        .containsExactly("10.0.0.1", "10.0.0.2", "10.0.0.2", "10.0.0.1", "10.0.0.2", "10.0.0.2");
  }
}
