package dev.trellis.telemetry.tracing;

import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanBuilder;
import io.opentelemetry.sdk.trace.IdGenerator;

/**
 * The SDK's random ids, except that a root span started through {@link #start} gets the trace id its caller chose:
 * a request whose root sampling was decided on a trace id before any span existed ({@link RequestSampler}) keeps
 * that id, so the SDK's own sampler, reading the same id, decides the same. Set as the tracer provider's id
 * generator; the hand-off is per thread and lasts only for the {@code startSpan} call.
 */
public final class TraceIdHandOff implements IdGenerator {

  private static final IdGenerator RANDOM = IdGenerator.random();
  private final ThreadLocal<String> next = new ThreadLocal<>();

  @Override
  public String generateSpanId() {
    return RANDOM.generateSpanId();
  }

  @Override
  public String generateTraceId() {
    String chosen = next.get();
    if (chosen != null) {
      next.remove();
      return chosen;
    }
    return RANDOM.generateTraceId();
  }

  /** Random, also when handed off (the caller draws them at random): the SDK marks its roots' flags so. */
  @Override
  public boolean generatesRandomTraceIds() {
    return true;
  }

  /** Starts {@code rootBuilder} (a span without a valid parent) with {@code traceIdHex} as its trace id. */
  Span start(SpanBuilder rootBuilder, String traceIdHex) {
    next.set(traceIdHex);
    try {
      return rootBuilder.startSpan();
    } finally {
      next.remove();
    }
  }
}
