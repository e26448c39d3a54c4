package dev.trellis.telemetry;

import dev.trellis.telemetry.accesslog.AccessLog;
import dev.trellis.telemetry.config.TelemetrySettings;
import dev.trellis.telemetry.metrics.MeshMetrics;
import dev.trellis.telemetry.metrics.MetricsPipeline;
import dev.trellis.telemetry.tracing.RequestSampler;
import dev.trellis.telemetry.tracing.TracingPipeline;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.propagation.TextMapPropagator;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** {@link Telemetry} on the OpenTelemetry SDK: a tracing pipeline, a metrics pipeline and the access log. */
final class SdkTelemetry implements Telemetry {

  private static final Logger log = LoggerFactory.getLogger(SdkTelemetry.class);
  static final AttributeKey<String> SERVICE_NAME = AttributeKey.stringKey("service.name");

  private final TracingPipeline tracing;
  private final MetricsPipeline metrics;
  private final AccessLog accessLog;

  private SdkTelemetry(TracingPipeline tracing, MetricsPipeline metrics, AccessLog accessLog) {
    this.tracing = tracing;
    this.metrics = metrics;
    this.accessLog = accessLog;
  }

  static Telemetry create(TelemetrySettings settings, String serviceName, Attributes resourceAttributes) {
    Resource resource = resource(serviceName, resourceAttributes);
    return assemble(settings, resource, TracingPipeline.create(settings, resource));
  }

  /** With {@code spanExporters} in place of the ones {@code settings} names (tests). */
  static Telemetry create(TelemetrySettings settings, String serviceName, Attributes resourceAttributes,
      List<SpanExporter> spanExporters) {
    Resource resource = resource(serviceName, resourceAttributes);
    return assemble(settings, resource,
        TracingPipeline.create(settings.samplingRatio(), settings.maxQueuedSpans(), resource, spanExporters));
  }

  private static Telemetry assemble(TelemetrySettings settings, Resource resource, TracingPipeline tracing) {
    MetricsPipeline metrics = null;
    try {
      metrics = MetricsPipeline.create(resource, settings.exporters());
      return new SdkTelemetry(tracing, metrics, AccessLog.create(settings.accessLog()));
    } catch (RuntimeException e) {
      tracing.close();
      if (metrics != null) {
        metrics.close();
      }
      throw e;
    }
  }

  /** The SDK's defaults ({@code telemetry.sdk.*}), then {@code attributes}, then {@code service.name}. */
  static Resource resource(String serviceName, Attributes attributes) {
    Objects.requireNonNull(serviceName, "serviceName");
    return Resource.getDefault()
        .merge(Resource.create(attributes == null ? Attributes.empty() : attributes))
        .merge(Resource.create(Attributes.of(SERVICE_NAME, serviceName)));
  }

  @Override
  public Tracer tracer() {
    return tracing.tracer();
  }

  @Override
  public RequestSampler requestSampler() {
    return tracing.requestSampler();
  }

  @Override
  public TextMapPropagator propagator() {
    return Propagation.W3C;
  }

  @Override
  public MeshMetrics metrics() {
    return metrics.metrics();
  }

  @Override
  public AccessLog accessLog() {
    return accessLog;
  }

  @Override
  public Optional<MetricsPipeline> metricsPipeline() {
    return Optional.of(metrics);
  }

  @Override
  public long droppedSpans() {
    return tracing.droppedSpans();
  }

  /** Flushes spans, metrics and log lines (each with a short timeout) and stops. */
  @Override
  public void close() {
    for (AutoCloseable part : List.<AutoCloseable>of(tracing, metrics, accessLog)) {
      try {
        part.close();
      } catch (Exception e) {
        log.warn("telemetry: closing {} failed", part, e);
      }
    }
  }
}
