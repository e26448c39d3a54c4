package dev.trellis.telemetry.metrics;

import dev.trellis.telemetry.TelemetrySettings.Exporter;
import io.opentelemetry.api.metrics.MeterProvider;
import io.opentelemetry.exporter.otlp.http.metrics.OtlpHttpMetricExporter;
import io.opentelemetry.exporter.otlp.metrics.OtlpGrpcMetricExporter;
import io.opentelemetry.exporter.prometheus.PrometheusMetricReader;
import io.opentelemetry.exporter.prometheus.TranslationStrategy;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.metrics.SdkMeterProviderBuilder;
import io.opentelemetry.sdk.metrics.export.MetricExporter;
import io.opentelemetry.sdk.metrics.export.PeriodicMetricReader;
import io.opentelemetry.sdk.resources.Resource;
import io.prometheus.metrics.config.EscapingScheme;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A process's metrics: an {@link SdkMeterProvider} read by Prometheus (pull, rendered as text for the admin port)
 * and, for each OTLP exporter configured, pushed every {@link #OTLP_INTERVAL}.
 */
public final class MetricsPipeline implements AutoCloseable {

  static final Duration OTLP_INTERVAL = Duration.ofSeconds(30);
  private static final Duration EXPORT_TIMEOUT = Duration.ofSeconds(5);
  private static final String SCOPE = "dev.trellis";

  private final SdkMeterProvider meterProvider;
  private final PrometheusMetricReader prometheus;
  private final PrometheusTextFormatWriter textFormat;
  private final MeshMetrics metrics;

  private MetricsPipeline(SdkMeterProvider meterProvider, PrometheusMetricReader prometheus) {
    this.meterProvider = meterProvider;
    this.prometheus = prometheus;
    this.textFormat = PrometheusTextFormatWriter.builder().setIncludeCreatedTimestamps(false).build();
    this.metrics = new SdkMeshMetrics(meterProvider.get(SCOPE));
  }

  /** Prometheus always; OTLP push for each {@link Exporter.OtlpGrpc} / {@link Exporter.OtlpHttp} in {@code exporters}. */
  public static MetricsPipeline create(Resource resource, List<Exporter> exporters) {
    // Resource attributes come from the scrape target's labels in Prometheus: no target_info series, and the
    // one scope needs no otel_scope_* labels on every series.
    PrometheusMetricReader prometheus = PrometheusMetricReader.builder()
        .setTargetInfoMetricEnabled(false)
        .setOtelScopeLabelsEnabled(false)
        .setTranslationStrategy(TranslationStrategy.UNDERSCORE_ESCAPING_WITH_SUFFIXES)
        .build();
    SdkMeterProviderBuilder builder = SdkMeterProvider.builder().setResource(resource).registerMetricReader(prometheus);
    for (Exporter exporter : exporters) {
      MetricExporter otlp = switch (exporter) {
        case Exporter.OtlpGrpc grpc -> OtlpGrpcMetricExporter.builder()
            .setEndpoint(grpc.endpoint().toString())
            .setTimeout(EXPORT_TIMEOUT)
            .build();
        case Exporter.OtlpHttp http -> OtlpHttpMetricExporter.builder()
            .setEndpoint(withPath(http.endpoint().toString(), "/v1/metrics"))
            .setTimeout(EXPORT_TIMEOUT)
            .build();
        case Exporter.Zipkin zipkin -> null;
      };
      if (otlp != null) {
        builder.registerMetricReader(PeriodicMetricReader.builder(otlp).setInterval(OTLP_INTERVAL).build());
      }
    }
    return new MetricsPipeline(builder.build(), prometheus);
  }

  /** OTLP/HTTP endpoints are configured by their root ({@code http://collector:4318}). */
  private static String withPath(String base, String path) {
    return (base.endsWith("/") ? base.substring(0, base.length() - 1) : base) + path;
  }

  public MeshMetrics metrics() {
    return metrics;
  }

  /** For the SDK's own instruments (exporters, processors), if wanted. */
  public MeterProvider meterProvider() {
    return meterProvider;
  }

  /** Every metric, collected now, in the Prometheus text exposition format 0.0.4. */
  public String prometheusText() {
    ByteArrayOutputStream out = new ByteArrayOutputStream(8192);
    try {
      textFormat.write(out, prometheus.collect(), EscapingScheme.UNDERSCORE_ESCAPING);
    } catch (IOException e) {
      throw new UncheckedIOException(e); // a ByteArrayOutputStream does not fail
    }
    return out.toString(StandardCharsets.UTF_8);
  }

  /** Pushes what OTLP has not sent yet (bounded by a short timeout) and stops. */
  @Override
  public void close() {
    meterProvider.shutdown().join(EXPORT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
  }
}
