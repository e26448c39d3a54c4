package dev.trellis.proxy.testing;

import dev.trellis.telemetry.Propagation;
import dev.trellis.telemetry.Telemetry;
import dev.trellis.telemetry.accesslog.AccessLog;
import dev.trellis.telemetry.accesslog.AccessLogEntry;
import dev.trellis.telemetry.metrics.MeshMetrics;
import dev.trellis.telemetry.metrics.MetricsPipeline;
import dev.trellis.telemetry.tracing.RequestSampler;
import dev.trellis.telemetry.tracing.TraceIdHandOff;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.propagation.TextMapPropagator;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import java.util.List;
import java.util.Optional;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.LongSupplier;

/** Telemetry for tests: spans in memory (every trace sampled, parent-based), metrics and access-log lines recorded. */
public final class RecordingTelemetry implements Telemetry {

  public record Measurement(String instrument, Attributes attributes, long value) {}

  public final InMemorySpanExporter spans = InMemorySpanExporter.create();
  public final Queue<Measurement> measurements = new ConcurrentLinkedQueue<>();
  public final Queue<AccessLogEntry> accessLog = new ConcurrentLinkedQueue<>();
  private final SdkTracerProvider provider;
  private final RequestSampler requestSampler;

  /** Every request through the tracer with {@code sampler} (the path requests took before {@link RequestSampler}). */
  public RecordingTelemetry(Sampler sampler) {
    provider = SdkTracerProvider.builder().setSampler(sampler).addSpanProcessor(SimpleSpanProcessor.create(spans)).build();
    requestSampler = RequestSampler.tracer();
  }

  /**
   * Parent-based ratio sampling as the node proxy's telemetry has it: sampled requests through the tracer, the others
   * with their own trace context and no span.
   */
  public RecordingTelemetry(double ratio) {
    TraceIdHandOff ids = new TraceIdHandOff();
    provider = SdkTracerProvider.builder().setSampler(Sampler.parentBased(Sampler.traceIdRatioBased(ratio)))
        .setIdGenerator(ids).addSpanProcessor(SimpleSpanProcessor.create(spans)).build();
    requestSampler = RequestSampler.parentBasedRatio(ratio, ids);
  }

  /** Every root sampled, parents honoured. */
  public RecordingTelemetry() {
    this(1.0);
  }

  public List<Measurement> measured(String instrument) {
    return measurements.stream().filter(m -> m.instrument().equals(instrument)).toList();
  }

  @Override
  public Tracer tracer() {
    return provider.get("trellis-test");
  }

  @Override
  public RequestSampler requestSampler() {
    return requestSampler;
  }

  @Override
  public TextMapPropagator propagator() {
    return Propagation.W3C;
  }

  @Override
  public MeshMetrics metrics() {
    return new MeshMetrics() {
      @Override
      public void clientRequest(Attributes attributes, long durationNanos) {
        measurements.add(new Measurement("http.client.request.duration", attributes, durationNanos));
      }

      @Override
      public void serverRequest(Attributes attributes, long durationNanos) {
        measurements.add(new Measurement("http.server.request.duration", attributes, durationNanos));
      }

      @Override
      public void tcpBytes(Attributes attributes, boolean transmit, long bytes) {
        measurements.add(new Measurement("trellis.tcp.io", attributes, bytes));
      }

      @Override
      public void tcpConnection(Attributes attributes, ConnectionEvent event) {
        measurements.add(new Measurement("trellis.tcp.connections." + event, attributes, 1));
      }

      @Override
      public void gauge(String name, String description, String unit, LongSupplier value) {}

      @Override
      public void observedCounter(String name, String description, String unit, LongSupplier value) {}
    };
  }

  @Override
  public AccessLog accessLog() {
    return new AccessLog() {
      @Override
      public void log(AccessLogEntry entry) {
        accessLog.add(entry);
      }

      @Override
      public long dropped() {
        return 0;
      }

      @Override
      public void close() {}
    };
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
  public void close() {
    provider.close();
  }
}
