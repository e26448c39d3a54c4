package dev.trellis.proxy.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.proxy.state.EndpointSpec;
import java.util.List;
import org.junit.jupiter.api.Test;

class PicksTest {

  @Test
  void roundRobinCyclesAndHonoursEndpointWeights() {
    EndpointSpec a = new EndpointSpec("10.0.0.1", 80, null, null, null, false, null, null, 1);
    EndpointSpec b = new EndpointSpec("10.0.0.2", 80, null, null, null, false, null, null, 2);
    assertThat(List.of(0L, 1L, 2L, 3L, 4L, 5L).stream().map(c -> Picks.roundRobin(List.of(a, b), c).address()))
        .containsExactly("10.0.0.1", "10.0.0.2", "10.0.0.2", "10.0.0.1", "10.0.0.2", "10.0.0.2");
  }
}
