package dev.trellis.telemetry.tracing;

import dev.trellis.telemetry.config.TelemetrySettings.Exporter;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.exporter.otlp.trace.OtlpGrpcSpanExporter;
import io.opentelemetry.exporter.zipkin.ZipkinSpanExporter;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.time.Duration;
import zipkin2.reporter.urlconnection.URLConnectionSender;

/** The SDK exporter for each configured destination. */
final class SpanExporters {

  static final Duration EXPORT_TIMEOUT = Duration.ofSeconds(5);

  private SpanExporters() {}

  static SpanExporter create(Exporter exporter) {
    return switch (exporter) {
      case Exporter.OtlpGrpc grpc -> OtlpGrpcSpanExporter.builder()
          .setEndpoint(grpc.endpoint().toString())
          .setTimeout(EXPORT_TIMEOUT)
          .build();
      case Exporter.OtlpHttp http -> OtlpHttpSpanExporter.builder()
          .setEndpoint(withPath(http.endpoint().toString(), "/v1/traces"))
          .setTimeout(EXPORT_TIMEOUT)
          .build();
      // The JDK's HttpURLConnection rather than the exporter's default OkHttp 4 sender, which would put a second
      // OkHttp (4 next to the OTLP sender's 5) on the classpath.
      case Exporter.Zipkin zipkin -> ZipkinSpanExporter.builder()
          .setSender(URLConnectionSender.newBuilder()
              .endpoint(zipkin.endpoint().toString())
              .connectTimeout((int) EXPORT_TIMEOUT.toMillis())
              .readTimeout((int) EXPORT_TIMEOUT.toMillis())
              .build())
          .build();
    };
  }

  /** OTLP/HTTP endpoints are configured by their root ({@code http://collector:4318}). */
  static String withPath(String base, String path) {
    return (base.endsWith("/") ? base.substring(0, base.length() - 1) : base) + path;
  }
}
