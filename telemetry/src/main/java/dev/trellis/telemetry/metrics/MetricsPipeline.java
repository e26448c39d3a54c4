package dev.trellis.telemetry.metrics;

import dev.trellis.telemetry.config.TelemetrySettings.Exporter;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.Meter;
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
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.InfoSnapshot;
import io.prometheus.metrics.model.snapshots.MetricMetadata;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * A process's metrics: an {@link SdkMeterProvider} read by Prometheus (pull, rendered as text for the admin port)
 * and, for each OTLP exporter configured, pushed every {@link #OTLP_INTERVAL}. The only way a Trellis process makes
 * metrics: the mesh's request and connection metrics ({@link #metrics()}) and the process's own instruments
 * ({@link #meter()}, {@link #info}) are rendered together by {@link #prometheusText()}.
 *
 * <p>Prometheus names come from the instrument's name and unit: dots become underscores, the unit becomes a suffix
 * ({@code s} → {@code _seconds}, {@code By} → {@code _bytes}; annotations such as {@code {request}} add none) and a
 * counter gets {@code _total}. So {@code trellis.proxy.refusals} (a counter) is {@code trellis_proxy_refusals_total}
 * and {@code jvm.memory.heap.used} in {@code By} is {@code jvm_memory_heap_used_bytes}. No {@code target_info}, no
 * {@code otel_scope_*} labels; values are written as Prometheus floats ({@code 3.0}, {@code 1.8E9}).
 */
public final class MetricsPipeline implements AutoCloseable {

  static final Duration OTLP_INTERVAL = Duration.ofSeconds(30);
  private static final Duration EXPORT_TIMEOUT = Duration.ofSeconds(5);
  private static final String SCOPE = "dev.trellis";
  private static final Pattern INFO_NAME = Pattern.compile("[a-z][a-z0-9_.]*[._]info");

  private final SdkMeterProvider meterProvider;
  private final PrometheusMetricReader prometheus;
  private final PrometheusTextFormatWriter textFormat;
  private final Meter meter;
  private final MeshMetrics metrics;
  /** Prometheus names (without {@code _info}) of the gauges {@link #info} made, rendered as info metrics. */
  private final Set<String> infoNames = ConcurrentHashMap.newKeySet();

  private MetricsPipeline(SdkMeterProvider meterProvider, PrometheusMetricReader prometheus) {
    this.meterProvider = meterProvider;
    this.prometheus = prometheus;
    this.textFormat = PrometheusTextFormatWriter.builder().setIncludeCreatedTimestamps(false).build();
    this.meter = meterProvider.get(SCOPE);
    this.metrics = new SdkMeshMetrics(meter);
  }

  /**
   * Prometheus only: what a process's admin port serves, pushed nowhere (the control plane; a node proxy with
   * {@code --telemetry off}, whose admin port keeps serving its own metrics).
   */
  public static MetricsPipeline scrapeOnly(String serviceName) {
    return create(Resource.getDefault().merge(Resource.create(Attributes.of(AttributeKey.stringKey("service.name"),
        serviceName))), List.of());
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

  /**
   * The meter for the process's own instruments (counters and gauges read by callbacks at collection, histograms);
   * see the class comment for how their names appear in Prometheus.
   */
  public Meter meter() {
    return meter;
  }

  /**
   * An info metric: a gauge of 1 whose labels are the facts, e.g. {@code trellis.proxy.config.info} with a
   * {@code version} label. Prometheus reserves the {@code _info} suffix for its info type, so the exporter would
   * drop it from a plain gauge's name; this one is rendered as an info metric, {@code trellis_proxy_config_info}
   * (type gauge in the text format, value 1). Over OTLP it is the gauge {@code name}.
   *
   * @param name dotted or underscored, ending in {@code .info} or {@code _info}
   * @param labels read at each collection; null leaves the metric out of that collection
   */
  public void info(String name, String description, Supplier<Attributes> labels) {
    if (!INFO_NAME.matcher(name).matches()) {
      throw new IllegalArgumentException("info metric name: '" + name + "' (expected: lower-case letters, digits, "
          + "'_' and '.', ending in '.info' or '_info')");
    }
    infoNames.add(name.substring(0, name.length() - "_info".length()).replace('.', '_'));
    meter.gaugeBuilder(name).ofLongs().setDescription(description).buildWithCallback(measurement -> {
      Attributes attributes = labels.get();
      if (attributes != null) {
        measurement.record(1, attributes);
      }
    });
  }

  /** Every metric, collected now, in the Prometheus text exposition format 0.0.4. */
  public String prometheusText() {
    ByteArrayOutputStream out = new ByteArrayOutputStream(8192);
    try {
      textFormat.write(out, withInfoMetrics(prometheus.collect()), EscapingScheme.UNDERSCORE_ESCAPING);
    } catch (IOException e) {
      throw new UncheckedIOException(e); // a ByteArrayOutputStream does not fail
    }
    return out.toString(StandardCharsets.UTF_8);
  }

  /** The gauges {@link #info} made, as Prometheus info metrics (their {@code _info} suffix back). */
  private MetricSnapshots withInfoMetrics(MetricSnapshots collected) {
    if (infoNames.isEmpty()) {
      return collected;
    }
    List<MetricSnapshot> out = new ArrayList<>(collected.size());
    for (MetricSnapshot snapshot : collected) {
      if (snapshot instanceof GaugeSnapshot gauge && infoNames.contains(gauge.getMetadata().getName())) {
        List<InfoSnapshot.InfoDataPointSnapshot> points = new ArrayList<>(gauge.getDataPoints().size());
        for (GaugeSnapshot.GaugeDataPointSnapshot point : gauge.getDataPoints()) {
          points.add(new InfoSnapshot.InfoDataPointSnapshot(point.getLabels()));
        }
        out.add(new InfoSnapshot(new MetricMetadata(gauge.getMetadata().getName(), gauge.getMetadata().getHelp()),
            points));
      } else {
        out.add(snapshot);
      }
    }
    return new MetricSnapshots(out);
  }

  /** Pushes what OTLP has not sent yet (bounded by a short timeout) and stops. */
  @Override
  public void close() {
    meterProvider.shutdown().join(EXPORT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
  }
}
