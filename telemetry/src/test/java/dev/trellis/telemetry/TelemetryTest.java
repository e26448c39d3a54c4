package dev.trellis.telemetry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.trellis.telemetry.attributes.MeshAttributes;
import dev.trellis.telemetry.config.TelemetrySettings.AccessLogSettings;
import dev.trellis.telemetry.config.TelemetrySettings.Exporter;
import dev.trellis.telemetry.accesslog.AccessLogEntry;
import dev.trellis.telemetry.config.TelemetrySettings;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TelemetryTest {

  @Test
  void metricsOnlyRendersPrometheusTextAndRecordsNoSpans() {
    try (Telemetry telemetry = Telemetry.create(TelemetrySettings.metricsOnly(), "trellis-node-proxy",
        Attributes.of(AttributeKey.stringKey("k8s.node.name"), "node-1"))) {
      telemetry.metrics().clientRequest(Attributes.of(MeshAttributes.DESTINATION_SERVICE, "reviews"), 1_000_000);
      assertThat(telemetry.metricsPipeline().orElseThrow().prometheusText()).contains("http_client_request_duration_seconds_count{"
          + "trellis_destination_service=\"reviews\"} 1");
      assertThat(telemetry.tracer().spanBuilder("GET /").startSpan().isRecording()).isFalse();
      telemetry.accessLog().log(entry(503)); // off: no sink
      assertThat(telemetry.accessLog().dropped()).isZero();
    }
  }

  @Test
  void disabledTelemetryHasNoMetricsPipeline() {
    assertThat(Telemetry.disabled().metricsPipeline()).isEmpty();
  }

  @Test
  void theResourceNamesTheServiceOverTheGivenAttributes() {
    AttributeKey<String> node = AttributeKey.stringKey("k8s.node.name");
    Resource resource = SdkTelemetry.resource("trellis-node-proxy",
        Attributes.of(node, "node-1", SdkTelemetry.SERVICE_NAME, "ignored"));
    assertThat(resource.getAttribute(SdkTelemetry.SERVICE_NAME)).isEqualTo("trellis-node-proxy");
    assertThat(resource.getAttribute(node)).isEqualTo("node-1");
    assertThat(resource.getAttribute(AttributeKey.stringKey("telemetry.sdk.language"))).isEqualTo("java");
  }

  @Test
  void spansCarryTheResourceAndCloseFlushesThem() {
    List<SpanData> exported = new CopyOnWriteArrayList<>(); // InMemorySpanExporter forgets its spans on shutdown
    SpanExporter keeping = new SpanExporter() {
      @Override
      public CompletableResultCode export(Collection<SpanData> spans) {
        exported.addAll(spans);
        return CompletableResultCode.ofSuccess();
      }

      @Override
      public CompletableResultCode flush() {
        return CompletableResultCode.ofSuccess();
      }

      @Override
      public CompletableResultCode shutdown() {
        return CompletableResultCode.ofSuccess();
      }
    };
    TelemetrySettings settings = new TelemetrySettings(1, List.of(), 64, AccessLogSettings.off());
    Telemetry telemetry = SdkTelemetry.create(settings, "trellis-node-proxy", Attributes.empty(), List.of(keeping));
    telemetry.tracer().spanBuilder("GET /").startSpan().end();
    telemetry.close();
    assertThat(exported).singleElement()
        .satisfies(span -> assertThat(span.getResource().getAttribute(SdkTelemetry.SERVICE_NAME))
            .isEqualTo("trellis-node-proxy"));
  }

  @Test
  void theAccessLogGoesToTheConfiguredFileAndSamplingZeroKeepsFailures(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("access.log");
    TelemetrySettings settings =
        new TelemetrySettings(0.01, List.of(), 64, new AccessLogSettings(file.toString(), 0));
    try (Telemetry telemetry = Telemetry.create(settings, "test", Attributes.empty())) {
      telemetry.accessLog().log(entry(200));
      telemetry.accessLog().log(entry(503));
    }
    assertThat(Files.readAllLines(file)).singleElement().satisfies(l -> assertThat(l).contains("\"status\":503"));
  }

  /** Every real exporter is built from settings, and a collector that is not there costs dropped spans only. */
  @Test
  void realExportersToAnAbsentCollectorCountTheirSpansAsDropped() throws IOException {
    int closedPort;
    try (ServerSocket socket = new ServerSocket(0)) {
      closedPort = socket.getLocalPort();
    }
    String base = "http://127.0.0.1:" + closedPort;
    TelemetrySettings settings = new TelemetrySettings(1,
        List.of(new Exporter.OtlpGrpc(URI.create(base)), new Exporter.OtlpHttp(URI.create(base)),
            new Exporter.Zipkin(URI.create(base + "/api/v2/spans"))),
        64, AccessLogSettings.off());
    try (Telemetry telemetry = Telemetry.create(settings, "test", Attributes.empty())) {
      for (int i = 0; i < 5; i++) {
        telemetry.tracer().spanBuilder("GET /").startSpan().end();
      }
      // Five spans, three exporters, each export refused: flushed within the 1 s schedule delay.
      await().atMost(30, TimeUnit.SECONDS).until(() -> telemetry.droppedSpans() == 15);
    }
  }

  private static AccessLogEntry entry(int status) {
    return new AccessLogEntry(Instant.EPOCH, 1, null, null, "outbound", "HTTP/1.1", "GET", "a", "/", status, null,
        null, 0, 0, null, null, 1, null, null, null, null, null, false, null);
  }
}
