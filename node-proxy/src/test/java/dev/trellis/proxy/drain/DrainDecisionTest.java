package dev.trellis.proxy.drain;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.proxy.drain.DrainDecision.Action;
import dev.trellis.proxy.drain.DrainDecision.Kind;
import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class DrainDecisionTest {

  @ParameterizedTest(name = "{0}, in flight {1}: {2}")
  @CsvSource({
      "HTTP1, false, CLOSE_WHEN_QUIET",
      "HTTP1, true, CLOSE_AFTER_RESPONSE",
      "HTTP2, false, GO_AWAY_WHEN_QUIET",
      "HTTP2, true, GO_AWAY_WHEN_QUIET",
      "HBONE, false, GO_AWAY",
      "HBONE, true, GO_AWAY",
      "RELAY, false, WAIT_FOR_TIMEOUT",
      "RELAY, true, WAIT_FOR_TIMEOUT",
  })
  void eachConnectionKindIsToldToLeaveTheWayItsProtocolAllows(Kind kind, boolean inFlight, Action expected) {
    assertThat(DrainDecision.decide(kind, inFlight)).isEqualTo(expected);
  }

  /** Durations in milliseconds. */
  @ParameterizedTest(name = "{0} ms into a {2} ms drain, quiet for {1} ms: notice {3}")
  @CsvSource({
      "0,     0,    20000, false",   // the drain just began, the connection may be between two requests
      "900,   900,  20000, false",   // quiet, not long enough yet
      "1000,  1000, 20000, true",    // quiet for HTTP2_QUIET
      "4000,  1000, 20000, true",
      "4999,  0,    20000, false",   // busy: waits
      "5000,  0,    20000, true",    // busy, at HTTP2_NOTICE_AT_LATEST
      "999,   0,    4000,  false",   // a short drain: a quarter of its timeout
      "1000,  0,    4000,  true",
      "60000, 0,    600000, true",   // a long drain waits no more than HTTP2_NOTICE_AT_LATEST
  })
  void aDownstreamHttp2ConnectionGetsItsNoticeWhenQuietOrAtTheLatestAfterAQuarterOfTheTimeoutOrFiveSeconds(
      long sinceDrain, long quiet, long timeout, boolean due) {
    assertThat(DrainDecision.http2NoticeDue(Duration.ofMillis(sinceDrain), Duration.ofMillis(quiet),
        Duration.ofMillis(timeout))).isEqualTo(due);
  }
}
