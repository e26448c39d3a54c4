package dev.trellis.proxy.resilience;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.trellis.proxy.resilience.AttemptResult.Kind;
import dev.trellis.proxy.route.RouteTable.RetrySpec;
import java.time.Duration;
import java.util.Arrays;
import java.util.Set;
import java.util.function.LongUnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

class RetryDecisionTest {

  private static final LongUnaryOperator MAX = bound -> bound - 1;

  static RetrySpec spec(String on, int num, Integer... codes) {
    return new RetrySpec(Set.of(on.split(",")), num, null, Duration.ofMillis(25), Duration.ofMillis(250),
        Set.copyOf(Arrays.asList(codes)));
  }

  static Stream<Arguments> conditions() {
    return Stream.of(
        Arguments.of("5xx", AttemptResult.response(500), true),
        Arguments.of("5xx", AttemptResult.response(503), true),
        Arguments.of("5xx", AttemptResult.response(404), false),
        Arguments.of("5xx", AttemptResult.of(Kind.CONNECT_FAILURE), true),
        Arguments.of("5xx", AttemptResult.of(Kind.RESET), true),
        Arguments.of("5xx", AttemptResult.of(Kind.PER_TRY_TIMEOUT), true),
        Arguments.of("gateway-error", AttemptResult.response(500), false),
        Arguments.of("gateway-error", AttemptResult.response(502), true),
        Arguments.of("gateway-error", AttemptResult.response(504), true),
        Arguments.of("gateway-error", AttemptResult.of(Kind.CONNECT_FAILURE), true),
        Arguments.of("reset", AttemptResult.of(Kind.RESET), true),
        Arguments.of("reset", AttemptResult.of(Kind.PROTOCOL_ERROR), true),
        Arguments.of("reset", AttemptResult.response(503), false),
        Arguments.of("reset", AttemptResult.of(Kind.CONNECT_FAILURE), false),
        Arguments.of("connect-failure", AttemptResult.of(Kind.CONNECT_FAILURE), true),
        Arguments.of("connect-failure", AttemptResult.of(Kind.RESET), false),
        Arguments.of("connect-failure", AttemptResult.response(503), false),
        Arguments.of("refused-stream", AttemptResult.of(Kind.REFUSED_STREAM), true),
        Arguments.of("refused-stream", AttemptResult.of(Kind.RESET), false),
        Arguments.of("retriable-4xx", AttemptResult.response(409), true),
        Arguments.of("retriable-4xx", AttemptResult.response(429), false),
        Arguments.of("unavailable", AttemptResult.grpc(200, 14), true),
        Arguments.of("unavailable", AttemptResult.grpc(200, 13), false),
        Arguments.of("internal", AttemptResult.grpc(200, 13), true),
        Arguments.of("cancelled", AttemptResult.grpc(200, 1), true),
        Arguments.of("deadline-exceeded", AttemptResult.grpc(200, 4), true),
        Arguments.of("resource-exhausted", AttemptResult.grpc(200, 8), true),
        Arguments.of("unavailable", AttemptResult.response(503), false),
        Arguments.of("no-such-condition", AttemptResult.response(503), false));
  }

  @ParameterizedTest(name = "{0} on {1} -> {2}")
  @MethodSource("conditions")
  void retryOnConditionsFollowEnvoy(String on, AttemptResult result, boolean retriable) {
    assertEquals(retriable, RetryDecision.retriable(spec(on, 2), result));
  }

  @Test
  void retriableStatusCodesMatchOnlyTheListedStatuses() {
    RetrySpec s = spec("retriable-status-codes", 2, 429, 503);
    assertEquals(true, RetryDecision.retriable(s, AttemptResult.response(429)));
    assertEquals(true, RetryDecision.retriable(s, AttemptResult.response(503)));
    assertEquals(false, RetryDecision.retriable(s, AttemptResult.response(500)));
    assertEquals(false, RetryDecision.retriable(s, AttemptResult.of(Kind.RESET)));
  }

  @Test
  void givesUpForEachReasonInOrder() {
    RetrySpec s = spec("5xx", 2);
    AttemptResult fail = AttemptResult.response(503);
    assertEquals(new RetryDecision.GiveUp(RetryDecision.Reason.NOT_RETRIABLE),
        RetryDecision.decide(null, fail, 0, true, true, MAX, Long.MAX_VALUE));
    assertEquals(new RetryDecision.GiveUp(RetryDecision.Reason.NOT_RETRIABLE),
        RetryDecision.decide(s, AttemptResult.response(200), 0, true, true, MAX, Long.MAX_VALUE));
    assertEquals(new RetryDecision.GiveUp(RetryDecision.Reason.EXHAUSTED),
        RetryDecision.decide(s, fail, 2, true, true, MAX, Long.MAX_VALUE));
    assertEquals(new RetryDecision.GiveUp(RetryDecision.Reason.BODY_NOT_REPLAYABLE),
        RetryDecision.decide(s, fail, 0, false, true, MAX, Long.MAX_VALUE));
    assertEquals(new RetryDecision.GiveUp(RetryDecision.Reason.BUDGET_EXHAUSTED),
        RetryDecision.decide(s, fail, 0, true, false, MAX, Long.MAX_VALUE));
    assertEquals(new RetryDecision.GiveUp(RetryDecision.Reason.NO_TIME_LEFT),
        RetryDecision.decide(s, fail, 0, true, true, MAX, 10));
    assertEquals(new RetryDecision.Retry(25), RetryDecision.decide(s, fail, 0, true, true, MAX, Long.MAX_VALUE));
    assertEquals(new RetryDecision.Retry(75), RetryDecision.decide(s, fail, 1, true, true, MAX, Long.MAX_VALUE));
  }

  @Test
  void backoffIsJitteredExponentialCappedAtMax() {
    RetrySpec s = spec("5xx", 10);
    // Upper bounds (2^n - 1) * 25 ms: 25, 75, 175, then the 250 ms cap.
    long[] expected = {25, 75, 175, 250, 250};
    for (int n = 1; n <= expected.length; n++) {
      assertEquals(expected[n - 1], RetryDecision.backoffMillis(s, n, MAX), "retry " + n);
      assertEquals(0, RetryDecision.backoffMillis(s, n, bound -> 0));
    }
    assertEquals(250, RetryDecision.backoffMillis(s, 63, MAX), "no overflow at large retry counts");
    assertThrows(IllegalArgumentException.class, () -> RetryDecision.backoffMillis(s, 0, MAX));
  }
}
