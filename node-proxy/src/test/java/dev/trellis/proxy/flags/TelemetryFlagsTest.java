package dev.trellis.proxy.flags;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.telemetry.config.TelemetrySettings;
import java.net.URI;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TelemetryFlagsTest {

  @Test
  void defaultsAreMetricsWithoutSpansOrAccessLog() {
    TelemetrySettings s = TelemetryFlags.parse(Map.of());
    assertThat(s.tracing()).isFalse();
    assertThat(s.samplingRatio()).isEqualTo(0.01);
    assertThat(s.accessLog().enabled()).isFalse();
    assertThat(TelemetryFlags.parse(Map.of("telemetry", "off"))).isNull();
  }

  @Test
  void exportersSamplingAndAccessLogAreRead() {
    TelemetrySettings s = TelemetryFlags.parse(Map.of("zipkin", "http://zipkin:9411/api/v2/spans",
        "otlp-grpc", "http://collector:4317", "tracing-sampling", "0.5", "access-log", "stdout",
        "access-log-sampling", "0.1", "max-queued-spans", "100"));
    assertThat(s.exporters()).containsExactly(new TelemetrySettings.Exporter.OtlpGrpc(URI.create("http://collector:4317")),
        new TelemetrySettings.Exporter.Zipkin(URI.create("http://zipkin:9411/api/v2/spans")));
    assertThat(s.samplingRatio()).isEqualTo(0.5);
    assertThat(s.maxQueuedSpans()).isEqualTo(100);
    assertThat(s.accessLog()).isEqualTo(new TelemetrySettings.AccessLogSettings("stdout", 0.1));
  }

  @Test
  void badValuesNameTheFlagAndWhatItExpects() {
    assertThatThrownBy(() -> TelemetryFlags.parse(Map.of("tracing-sampling", "5")))
        .hasMessage("--tracing-sampling '5' (expected: a ratio from 0 to 1, e.g. 0.01)");
    assertThatThrownBy(() -> TelemetryFlags.parse(Map.of("zipkin", "zipkin:9411")))
        .hasMessageStartingWith("--zipkin 'zipkin:9411' (expected: an http(s) URL");
    assertThatThrownBy(() -> TelemetryFlags.parse(Map.of("telemetry", "maybe")))
        .hasMessage("--telemetry 'maybe' (expected: on or off)");
    assertThatThrownBy(() -> TelemetryFlags.parse(Map.of("max-queued-spans", "0")))
        .hasMessage("--max-queued-spans 0 (expected: >= 1)");
  }
}
