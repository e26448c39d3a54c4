package dev.trellis.proxy.drain;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.proxy.drain.DrainDecision.Action;
import dev.trellis.proxy.drain.DrainDecision.Kind;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class DrainDecisionTest {

  @ParameterizedTest(name = "{0}, in flight {1}: {2}")
  @CsvSource({
      "HTTP1, false, CLOSE_WHEN_QUIET",
      "HTTP1, true, CLOSE_AFTER_RESPONSE",
      "HTTP2, false, GO_AWAY",
      "HTTP2, true, GO_AWAY",
      "RELAY, false, WAIT_FOR_TIMEOUT",
      "RELAY, true, WAIT_FOR_TIMEOUT",
  })
  void eachConnectionKindIsToldToLeaveTheWayItsProtocolAllows(Kind kind, boolean inFlight, Action expected) {
    assertThat(DrainDecision.decide(kind, inFlight)).isEqualTo(expected);
  }
}
