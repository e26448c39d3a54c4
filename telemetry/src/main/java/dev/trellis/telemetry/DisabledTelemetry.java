package dev.trellis.telemetry;

import dev.trellis.telemetry.accesslog.AccessLog;
import dev.trellis.telemetry.metrics.MeshMetrics;
import dev.trellis.telemetry.metrics.MetricsPipeline;
import dev.trellis.telemetry.tracing.RequestSampler;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.api.trace.TracerProvider;
import io.opentelemetry.context.propagation.TextMapPropagator;
import java.util.Optional;

/** {@link Telemetry#disabled()}. */
enum DisabledTelemetry implements Telemetry {
  INSTANCE;

  private static final Tracer NOOP = TracerProvider.noop().get("trellis");

  @Override
  public Tracer tracer() {
    return NOOP;
  }

  @Override
  public RequestSampler requestSampler() {
    return RequestSampler.passThrough();
  }

  @Override
  public TextMapPropagator propagator() {
    return Propagation.W3C;
  }

  @Override
  public MeshMetrics metrics() {
    return MeshMetrics.noop();
  }

  @Override
  public AccessLog accessLog() {
    return AccessLog.off();
  }

  @Override
  public Optional<MetricsPipeline> metricsPipeline() {
    return Optional.empty();
  }

  @Override
  public long droppedSpans() {
    return 0;
  }

  @Override
  public void close() {}
}
