package dev.trellis.telemetry;

import io.opentelemetry.api.baggage.propagation.W3CBaggagePropagator;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.propagation.TextMapPropagator;

/** The propagation format of the mesh: W3C {@code traceparent}/{@code tracestate} and {@code baggage}. */
public final class Propagation {

  public static final TextMapPropagator W3C = TextMapPropagator.composite(W3CTraceContextPropagator.getInstance(),
      W3CBaggagePropagator.getInstance());

  private Propagation() {}
}
