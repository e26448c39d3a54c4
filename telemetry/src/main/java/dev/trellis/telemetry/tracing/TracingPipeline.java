package dev.trellis.telemetry.tracing;

import dev.trellis.telemetry.config.TelemetrySettings;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.api.trace.TracerProvider;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.SdkTracerProviderBuilder;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Spans from the mesh's tracer to each exporter: parent-based ratio sampling, then per exporter a bounded batch
 * queue ({@code maxQueuedSpans}) flushed every second. A span that finds its exporter's queue full, or whose export
 * fails, is dropped and counted in {@link #droppedSpans()} (once per exporter that lost it). Without exporters the
 * tracer is OpenTelemetry's no-op one, which still carries a parent's context through.
 */
public final class TracingPipeline implements AutoCloseable {

  static final String SCOPE = "dev.trellis";
  private static final Duration SCHEDULE_DELAY = Duration.ofSeconds(1);
  private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(5);
  private static final int MAX_EXPORT_BATCH = 512;

  private final SdkTracerProvider tracerProvider; // null: no exporter, no-op tracer
  private final Tracer tracer;
  private final List<SpanDrops> drops;
  private final RequestSampler requestSampler;

  private TracingPipeline(SdkTracerProvider tracerProvider, List<SpanDrops> drops, RequestSampler requestSampler) {
    this.tracerProvider = tracerProvider;
    this.tracer = tracerProvider == null ? TracerProvider.noop().get(SCOPE) : tracerProvider.get(SCOPE);
    this.drops = List.copyOf(drops);
    this.requestSampler = requestSampler;
  }

  /** The exporters {@code settings} names; none: a no-op tracer. */
  public static TracingPipeline create(TelemetrySettings settings, Resource resource) {
    return create(settings.samplingRatio(), settings.maxQueuedSpans(), resource,
        settings.exporters().stream().map(SpanExporters::create).toList());
  }

  /** Spans sampled at {@code samplingRatio} (parent-based) to each of {@code exporters}; none: a no-op tracer. */
  public static TracingPipeline create(double samplingRatio, int maxQueuedSpans, Resource resource,
      List<SpanExporter> exporters) {
    if (exporters.isEmpty()) {
      return new TracingPipeline(null, List.of(), RequestSampler.passThrough());
    }
    TraceIdHandOff ids = new TraceIdHandOff();
    SdkTracerProviderBuilder builder = SdkTracerProvider.builder()
        .setResource(resource)
        .setIdGenerator(ids)
        .setSampler(Sampler.parentBased(Sampler.traceIdRatioBased(samplingRatio)));
    List<SpanDrops> drops = new ArrayList<>();
    for (SpanExporter exporter : exporters) {
      SpanDrops counter = new SpanDrops();
      drops.add(counter);
      BatchSpanProcessor batch = BatchSpanProcessor.builder(new CountingSpanExporter(exporter, counter))
          .setMaxQueueSize(maxQueuedSpans)
          .setMaxExportBatchSize(Math.min(MAX_EXPORT_BATCH, maxQueuedSpans))
          .setScheduleDelay(SCHEDULE_DELAY)
          .setExporterTimeout(SpanExporters.EXPORT_TIMEOUT)
          .build();
      builder.addSpanProcessor(new AdmittingSpanProcessor(batch, counter, maxQueuedSpans));
    }
    return new TracingPipeline(builder.build(), drops, RequestSampler.parentBasedRatio(samplingRatio, ids));
  }

  public Tracer tracer() {
    return tracer;
  }

  /** The tracer's sampling, decided per request before any span exists. */
  public RequestSampler requestSampler() {
    return requestSampler;
  }

  /** Spans lost for want of queue space or to failed exports, summed over exporters. */
  public long droppedSpans() {
    long sum = 0;
    for (SpanDrops d : drops) {
      sum += d.dropped.sum();
    }
    return sum;
  }

  /** Exports what is queued; the result completes when every exporter has answered. */
  CompletableResultCode forceFlush() {
    return tracerProvider == null ? CompletableResultCode.ofSuccess() : tracerProvider.forceFlush();
  }

  /** Exports what is queued, waiting at most a few seconds, and stops. */
  @Override
  public void close() {
    if (tracerProvider != null) {
      tracerProvider.shutdown().join(CLOSE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    }
  }
}
