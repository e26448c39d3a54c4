package dev.trellis.proxy.resilience;

import dev.trellis.proxy.route.RouteTable.RetrySpec;
import java.util.Locale;
import java.util.function.LongUnaryOperator;

/**
 * Whether to try a request again after an attempt ended, with Envoy's retry semantics. Pure: the
 * caller supplies the counts and the random draw.
 *
 * <p>Conditions ({@code retry_on}): {@code 5xx} (any 5xx, or no response: connect failure, reset,
 * refused stream, per-try timeout), {@code gateway-error} (502/503/504, or no response),
 * {@code reset}, {@code connect-failure}, {@code refused-stream}, {@code retriable-status-codes}
 * (the listed statuses) and the gRPC ones {@code cancelled}, {@code deadline-exceeded},
 * {@code internal}, {@code resource-exhausted}, {@code unavailable} (matched against the
 * {@code grpc-status} of a trailers-only response; a gRPC status in trailers comes after the response
 * has been forwarded, too late to retry).
 */
public sealed interface RetryDecision {

  /** Try again after {@code backoffMillis}. */
  record Retry(long backoffMillis) implements RetryDecision {}

  /** Hand the result to the client. */
  record GiveUp(Reason reason) implements RetryDecision {}

  enum Reason {
    /** The route has no retry policy, or the result matches none of its conditions. */
    NOT_RETRIABLE,
    /** num_retries reached. */
    EXHAUSTED,
    /** The request body outgrew the retry buffer, so it cannot be replayed. */
    BODY_NOT_REPLAYABLE,
    /** The cluster's retry budget (or max_retries circuit breaker) is used up. */
    BUDGET_EXHAUSTED,
    /** The route timeout leaves no time for another attempt. */
    NO_TIME_LEFT
  }

  /**
   * @param retriesDone retries already made for this request (0 after the first attempt)
   * @param replayable whether the whole request body is still held in the retry buffer
   * @param budgetAllows whether the cluster admits one more concurrent retry (see {@link RetryBudget})
   * @param random draws a value in {@code [0, bound)} for the jittered backoff
   * @param millisLeft time until the route timeout, or {@link Long#MAX_VALUE} without one
   */
  static RetryDecision decide(RetrySpec spec, AttemptResult result, int retriesDone, boolean replayable,
      boolean budgetAllows, LongUnaryOperator random, long millisLeft) {
    if (spec == null || !retriable(spec, result)) {
      return new GiveUp(Reason.NOT_RETRIABLE);
    }
    if (retriesDone >= spec.numRetries()) {
      return new GiveUp(Reason.EXHAUSTED);
    }
    if (!replayable) {
      return new GiveUp(Reason.BODY_NOT_REPLAYABLE);
    }
    if (!budgetAllows) {
      return new GiveUp(Reason.BUDGET_EXHAUSTED);
    }
    long backoff = backoffMillis(spec, retriesDone + 1, random);
    if (backoff >= millisLeft) {
      return new GiveUp(Reason.NO_TIME_LEFT);
    }
    return new Retry(backoff);
  }

  /** Whether {@code result} matches one of the policy's {@code retry_on} conditions. */
  static boolean retriable(RetrySpec spec, AttemptResult result) {
    for (String on : spec.retryOn()) {
      if (matches(on.toLowerCase(Locale.ROOT), spec, result)) {
        return true;
      }
    }
    return false;
  }

  private static boolean matches(String on, RetrySpec spec, AttemptResult r) {
    boolean noResponse = r.kind() != AttemptResult.Kind.RESPONSE;
    return switch (on) {
      case "5xx" -> noResponse || r.status() >= 500;
      case "gateway-error" -> noResponse || r.status() == 502 || r.status() == 503 || r.status() == 504;
      case "reset" -> r.kind() == AttemptResult.Kind.RESET || r.kind() == AttemptResult.Kind.PER_TRY_TIMEOUT
          || r.kind() == AttemptResult.Kind.PROTOCOL_ERROR;
      case "connect-failure" -> r.kind() == AttemptResult.Kind.CONNECT_FAILURE;
      case "refused-stream" -> r.kind() == AttemptResult.Kind.REFUSED_STREAM;
      case "retriable-status-codes" -> !noResponse && spec.retriableStatusCodes().contains(r.status());
      case "retriable-4xx" -> !noResponse && r.status() == 409;
      case "cancelled" -> r.grpcStatus() == 1;
      case "deadline-exceeded" -> r.grpcStatus() == 4;
      case "resource-exhausted" -> r.grpcStatus() == 8;
      case "internal" -> r.grpcStatus() == 13;
      case "unavailable" -> r.grpcStatus() == 14;
      default -> false;
    };
  }

  /**
   * Envoy's fully jittered exponential backoff: uniform in {@code [0, (2^n - 1) * base]}, capped at
   * the policy's max interval, for the {@code n}-th retry.
   */
  static long backoffMillis(RetrySpec spec, int retry, LongUnaryOperator random) {
    if (retry < 1) {
      throw new IllegalArgumentException("retry: " + retry + " (expected: >= 1)");
    }
    long base = Math.max(1, spec.backoffBase().toMillis());
    long max = Math.max(base, spec.backoffMax().toMillis());
    long factor = retry >= 31 ? Long.MAX_VALUE : (1L << retry) - 1;
    long upper = factor > max / base ? max : Math.min(max, base * factor);
    return random.applyAsLong(upper + 1);
  }
}
