package dev.trellis.telemetry.config;

import java.net.URI;
import java.util.List;

/**
 * What a process emits and where to. Tracing is on when {@link #exporters} is not empty; metrics are always
 * collected for the Prometheus scrape endpoint (and pushed over OTLP when an OTLP exporter is configured).
 *
 * @param samplingRatio probability that a trace this process starts is sampled (parent-based: a sampled or
 *     unsampled parent's decision is kept), 0..1
 * @param exporters where spans (and, for OTLP, metrics) go; empty: no tracing
 * @param maxQueuedSpans spans waiting for export beyond this are dropped (counted), never blocking traffic
 * @param accessLog the access log; {@link AccessLogSettings#off()} for none
 */
public record TelemetrySettings(double samplingRatio, List<Exporter> exporters, int maxQueuedSpans,
    AccessLogSettings accessLog) {

  public TelemetrySettings {
    if (!(samplingRatio >= 0 && samplingRatio <= 1)) {
      throw new IllegalArgumentException("sampling ratio: " + samplingRatio + " (expected: 0..1)");
    }
    if (maxQueuedSpans < 1) {
      throw new IllegalArgumentException("max queued spans: " + maxQueuedSpans + " (expected: >= 1)");
    }
    exporters = List.copyOf(exporters);
  }

  /** Metrics only: no spans, no access log. */
  public static TelemetrySettings metricsOnly() {
    return new TelemetrySettings(0.01, List.of(), 2048, AccessLogSettings.off());
  }

  public boolean tracing() {
    return !exporters.isEmpty();
  }

  /** A span (and metric) destination. */
  public sealed interface Exporter {
    URI endpoint();

    /** OTLP over gRPC, e.g. {@code http://otel-collector:4317}. */
    record OtlpGrpc(URI endpoint) implements Exporter {}

    /** OTLP over HTTP/protobuf, e.g. {@code http://otel-collector:4318} (paths /v1/traces, /v1/metrics). */
    record OtlpHttp(URI endpoint) implements Exporter {}

    /** Zipkin's v2 JSON API, e.g. {@code http://zipkin:9411/api/v2/spans}. */
    record Zipkin(URI endpoint) implements Exporter {}
  }

  /**
   * @param sink {@code stdout}, {@code stderr} or a file path
   * @param samplingRatio share of requests/connections logged, 0..1 (failed ones are always logged)
   */
  public record AccessLogSettings(String sink, double samplingRatio) {
    public AccessLogSettings {
      if (!(samplingRatio >= 0 && samplingRatio <= 1)) {
        throw new IllegalArgumentException("access log sampling ratio: " + samplingRatio + " (expected: 0..1)");
      }
    }

    public static AccessLogSettings off() {
      return new AccessLogSettings(null, 0);
    }

    public boolean enabled() {
      return sink != null && samplingRatio > 0;
    }
  }
}
