package dev.trellis.telemetry;

import dev.trellis.telemetry.accesslog.AccessLog;
import dev.trellis.telemetry.config.TelemetrySettings;
import dev.trellis.telemetry.metrics.MeshMetrics;
import dev.trellis.telemetry.metrics.MetricsPipeline;
import dev.trellis.telemetry.tracing.RequestSampler;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.propagation.TextMapPropagator;
import java.util.Optional;

/**
 * A process's telemetry: a tracer (parent-based ratio sampling, bounded export queue), the W3C propagators
 * ({@code traceparent}, {@code tracestate}, {@code baggage} — always propagated, sampled or not), the mesh's metrics
 * in a {@link MetricsPipeline} (rendered as Prometheus text for admin ports; the process adds its own instruments to
 * it), and the access log. Telemetry failures never slow or break
 * traffic: exports are asynchronous and bounded, and what cannot be queued is dropped and counted.
 */
public interface Telemetry extends AutoCloseable {

  Tracer tracer();

  /** W3C trace context + baggage. */
  TextMapPropagator propagator();

  /**
   * The {@link #tracer()}'s sampling as a decision a request can take before starting a span, so unsampled requests
   * skip the span machinery. The default sends every request through the tracer (a tracer whose sampler it does not
   * know).
   */
  default RequestSampler requestSampler() {
    return RequestSampler.tracer();
  }

  MeshMetrics metrics();

  AccessLog accessLog();

  /**
   * The metrics pipeline {@link #metrics()} records into, for the process's own instruments and the admin port's
   * Prometheus text; empty when disabled (a process that still serves metrics then makes a
   * {@link MetricsPipeline#scrapeOnly} of its own).
   */
  Optional<MetricsPipeline> metricsPipeline();

  /** Spans dropped because the export queue was full (or the exporter failed). */
  long droppedSpans();

  @Override
  void close();

  /**
   * Telemetry as {@code settings} say: spans sampled and exported to its exporters (none: a no-op tracer that still
   * passes a parent's context on), metrics in a {@link #metricsPipeline()} (and OTLP push with an OTLP exporter),
   * the access log.
   *
   * @param serviceName the resource's {@code service.name}, e.g. {@code trellis-node-proxy}
   * @param resource further resource attributes ({@code service.instance.id}, {@code k8s.node.name}, ...)
   */
  static Telemetry create(TelemetrySettings settings, String serviceName, Attributes resource) {
    return SdkTelemetry.create(settings, serviceName, resource);
  }

  /**
   * Nothing recorded, nothing exported; the propagators still pass trace context on unchanged. Always the same
   * instance, so callers can tell "disabled" apart and skip work.
   */
  static Telemetry disabled() {
    return DisabledTelemetry.INSTANCE;
  }
}
