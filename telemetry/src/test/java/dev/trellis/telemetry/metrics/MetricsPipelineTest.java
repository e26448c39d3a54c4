package dev.trellis.telemetry.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.telemetry.attributes.MeshAttributes;
import dev.trellis.telemetry.metrics.MeshMetrics.ConnectionEvent;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.Meter;
import io.opentelemetry.sdk.resources.Resource;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class MetricsPipelineTest {

  private static final Attributes REQUEST = Attributes.builder()
      .put(MeshAttributes.DESTINATION_SERVICE, "reviews.default.svc.cluster.local")
      .put(MeshAttributes.HTTP_REQUEST_METHOD, "GET")
      .put(MeshAttributes.HTTP_RESPONSE_STATUS_CODE, 200L)
      .build();
  private static final Attributes CONNECTION = Attributes.of(MeshAttributes.DESTINATION_SERVICE, "db");

  private final MetricsPipeline pipeline = MetricsPipeline.create(Resource.empty(), List.of());
  private final MeshMetrics metrics = pipeline.metrics();

  @AfterEach
  void close() {
    pipeline.close();
  }

  @Test
  void prometheusTextCarriesTheNamesAndLabelsTheDashboardQueries() {
    metrics.clientRequest(REQUEST, 3_000_000); // 3 ms
    metrics.serverRequest(REQUEST, 700_000_000); // 0.7 s
    metrics.tcpBytes(CONNECTION, true, 100);
    metrics.tcpBytes(CONNECTION, false, 40);
    metrics.tcpConnection(CONNECTION, ConnectionEvent.OPENED);
    metrics.tcpConnection(CONNECTION, ConnectionEvent.FAILED);

    String text = pipeline.prometheusText();

    String labels = "http_request_method=\"GET\",http_response_status_code=\"200\","
        + "trellis_destination_service=\"reviews.default.svc.cluster.local\"";
    assertThat(text.lines()).contains(
        "# TYPE http_client_request_duration_seconds histogram",
        "http_client_request_duration_seconds_bucket{" + labels + ",le=\"0.0025\"} 0",
        "http_client_request_duration_seconds_bucket{" + labels + ",le=\"0.005\"} 1",
        "http_client_request_duration_seconds_bucket{" + labels + ",le=\"+Inf\"} 1",
        "http_client_request_duration_seconds_count{" + labels + "} 1",
        "http_client_request_duration_seconds_sum{" + labels + "} 0.003",
        "# TYPE http_server_request_duration_seconds histogram",
        "http_server_request_duration_seconds_bucket{" + labels + ",le=\"0.5\"} 0",
        "http_server_request_duration_seconds_bucket{" + labels + ",le=\"1.0\"} 1",
        "http_server_request_duration_seconds_count{" + labels + "} 1",
        "# TYPE trellis_tcp_io_bytes_total counter",
        "trellis_tcp_io_bytes_total{network_io_direction=\"receive\",trellis_destination_service=\"db\"} 40.0",
        "trellis_tcp_io_bytes_total{network_io_direction=\"transmit\",trellis_destination_service=\"db\"} 100.0",
        "# TYPE trellis_tcp_connections_total counter",
        "trellis_tcp_connections_total{trellis_connection_event=\"failed\",trellis_destination_service=\"db\"} 1.0",
        "trellis_tcp_connections_total{trellis_connection_event=\"opened\",trellis_destination_service=\"db\"} 1.0");
    assertThat(text).doesNotContain("target_info", "otel_scope");
  }

  @Test
  void everyBucketBoundaryIsOneAProxyNeeds() {
    metrics.clientRequest(REQUEST, 1);
    String text = pipeline.prometheusText();
    List<String> boundaries = text.lines()
        .filter(l -> l.startsWith("http_client_request_duration_seconds_bucket"))
        .map(l -> l.substring(l.indexOf("le=\"") + 4, l.indexOf("\"}")))
        .toList();
    assertThat(boundaries).containsExactly("5.0E-4", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
        "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "+Inf");
  }

  @Test
  void valuesMoveWithRecording() {
    metrics.tcpBytes(CONNECTION, true, 100);
    assertThat(pipeline.prometheusText()).contains(
        "trellis_tcp_io_bytes_total{network_io_direction=\"transmit\",trellis_destination_service=\"db\"} 100.0");
    metrics.tcpBytes(CONNECTION, true, 23);
    assertThat(pipeline.prometheusText()).contains(
        "trellis_tcp_io_bytes_total{network_io_direction=\"transmit\",trellis_destination_service=\"db\"} 123.0");
  }

  @Test
  void gaugesAndObservedCountersAreReadAtCollection() {
    AtomicLong active = new AtomicLong(3);
    AtomicLong overflows = new AtomicLong(7);
    metrics.gauge("trellis.hbone.pool.connections", "Pooled HBONE connections.", "{connection}", active::get);
    metrics.observedCounter("trellis.overflows", "Requests refused by a circuit breaker.", "{request}",
        overflows::get);
    metrics.gauge("trellis.broken", "A supplier that throws.", "1", () -> {
      throw new IllegalStateException("boom");
    });

    assertThat(pipeline.prometheusText().lines()).contains("trellis_hbone_pool_connections 3.0",
        "trellis_overflows_total 7.0");
    active.set(5);
    overflows.set(9);
    assertThat(pipeline.prometheusText().lines()).contains("trellis_hbone_pool_connections 5.0",
        "trellis_overflows_total 9.0");
  }

  @Test
  void recordingWithoutAttributesOrNegativeBytesDoesNotThrow() {
    metrics.clientRequest(null, 1_000);
    metrics.tcpBytes(null, true, -5);
    metrics.tcpConnection(null, ConnectionEvent.CLOSED);
    assertThat(pipeline.prometheusText().lines())
        .contains("trellis_tcp_connections_total{trellis_connection_event=\"closed\"} 1.0")
        .noneMatch(l -> l.startsWith("trellis_tcp_io_bytes_total"));
  }

  @Test
  void theProcessInstrumentsNamesBecomeThePrometheusNamesTheAdminPortsAlwaysHad() {
    Meter meter = pipeline.meter();
    AttributeKey<String> reason = AttributeKey.stringKey("reason");
    meter.counterBuilder("trellis.proxy.refusals").setUnit("{refusal}").setDescription("refused")
        .buildWithCallback(m -> m.record(3, Attributes.of(reason, "no_sni")));
    meter.gaugeBuilder("trellis.proxy.certificate.expiry").ofLongs().setUnit("s").setDescription("not after")
        .buildWithCallback(m -> m.record(1_800_000_000L));
    meter.gaugeBuilder("jvm.memory.heap.used").ofLongs().setUnit("By").setDescription("heap")
        .buildWithCallback(m -> m.record(1024));
    meter.counterBuilder("process.cpu").ofDoubles().setUnit("s").setDescription("cpu")
        .buildWithCallback(m -> m.record(2.5));
    meter.histogramBuilder("trellis.config.push.duration").setUnit("s").setDescription("push").build().record(0.25);

    assertThat(pipeline.prometheusText().lines()).contains(
        "# TYPE trellis_proxy_refusals_total counter", "trellis_proxy_refusals_total{reason=\"no_sni\"} 3.0",
        "# TYPE trellis_proxy_certificate_expiry_seconds gauge", "trellis_proxy_certificate_expiry_seconds 1.8E9",
        "# TYPE jvm_memory_heap_used_bytes gauge", "jvm_memory_heap_used_bytes 1024.0",
        "# TYPE process_cpu_seconds_total counter", "process_cpu_seconds_total 2.5",
        "# TYPE trellis_config_push_duration_seconds histogram", "trellis_config_push_duration_seconds_count 1",
        "trellis_config_push_duration_seconds_sum 0.25");
  }

  @Test
  void anInfoMetricKeepsItsInfoSuffixAndItsLabelsAndIsLeftOutWithoutThem() {
    AtomicReference<Attributes> labels = new AtomicReference<>(
        Attributes.of(AttributeKey.stringKey("version"), "v\"7\\"));
    pipeline.info("trellis.proxy.config.info", "the xDS view in use (version label)", labels::get);

    assertThat(pipeline.prometheusText().lines()).containsExactly(
        "# HELP trellis_proxy_config_info the xDS view in use (version label)",
        "# TYPE trellis_proxy_config_info gauge",
        "trellis_proxy_config_info{version=\"v\\\"7\\\\\"} 1");
    labels.set(null);
    assertThat(pipeline.prometheusText()).doesNotContain("trellis_proxy_config");
  }

  @Test
  void anInfoMetricNameMustSayInfo() {
    assertThatThrownBy(() -> pipeline.info("trellis.proxy.config", "no suffix", Attributes::empty))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("info metric name: 'trellis.proxy.config' (expected: lower-case letters, digits, '_' and '.', "
            + "ending in '.info' or '_info')");
  }

  @Test
  void aScrapeOnlyPipelineRendersWhatIsRecordedInIt() {
    try (MetricsPipeline scrapeOnly = MetricsPipeline.scrapeOnly("trellis-control-plane")) {
      assertThat(scrapeOnly.prometheusText()).isEmpty();
      scrapeOnly.meter().gaugeBuilder("trellis.leader").ofLongs().buildWithCallback(m -> m.record(1));
      assertThat(scrapeOnly.prometheusText().lines()).containsExactly("# TYPE trellis_leader gauge", "trellis_leader 1.0");
    }
  }
}
