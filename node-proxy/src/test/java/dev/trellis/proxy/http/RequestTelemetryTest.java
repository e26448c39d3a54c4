package dev.trellis.proxy.http;

import static dev.trellis.proxy.testing.ProxyFixture.cluster;
import static dev.trellis.proxy.testing.ProxyFixture.mesh;
import static dev.trellis.proxy.testing.ProxyFixture.respond;
import static dev.trellis.proxy.testing.ProxyFixture.rule;
import static dev.trellis.proxy.testing.ProxyFixture.to;
import static dev.trellis.telemetry.attributes.MeshAttributes.DESTINATION_WORKLOAD;
import static dev.trellis.telemetry.attributes.MeshAttributes.DIRECTION;
import static dev.trellis.telemetry.attributes.MeshAttributes.HTTP_REQUEST_METHOD;
import static dev.trellis.telemetry.attributes.MeshAttributes.HTTP_RESPONSE_STATUS_CODE;
import static dev.trellis.telemetry.attributes.MeshAttributes.RESPONSE_FLAGS;
import static dev.trellis.telemetry.attributes.MeshAttributes.SECURITY_POLICY;
import static dev.trellis.telemetry.attributes.MeshAttributes.SOURCE_PRINCIPAL;
import static dev.trellis.telemetry.attributes.MeshAttributes.SOURCE_WORKLOAD;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.trellis.proxy.http.HttpLimits;
import dev.trellis.proxy.route.RouteTable;
import dev.trellis.proxy.state.ClusterSpec;
import dev.trellis.proxy.state.LocalWorkload.MtlsMode;
import dev.trellis.proxy.testing.ProxyFixture;
import dev.trellis.proxy.testing.RawHttp;
import dev.trellis.proxy.testing.RecordingTelemetry;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.sdk.trace.data.SpanData;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Telemetry of proxied HTTP requests on one node's real data path (SOCKS entry → outbound → HBONE with mTLS →
 * inbound → workload): a client span at the source and a server span at the destination, linked through the
 * {@code traceparent} the source puts on the request, the caller's context honoured, duration metrics and access-log
 * lines with the mesh's attributes on both sides.
 */
class RequestTelemetryTest {

  private final RecordingTelemetry telemetry = new RecordingTelemetry();
  private final ProxyFixture fx = new ProxyFixture(HttpLimits.DEFAULTS, telemetry);
  private final Queue<String> traceparents = new ConcurrentLinkedQueue<>();
  private InetSocketAddress web;

  /** Holds the answer to {@code /held} until the test ends. */
  private final CountDownLatch held = new CountDownLatch(1);

  @BeforeEach
  void start() throws Exception {
    web = fx.backend("127.0.73.10", ex -> {
      traceparents.add(String.valueOf(ex.getRequestHeaders().getFirst("traceparent")));
      if (ex.getRequestURI().getPath().equals("/held")) {
        try {
          held.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      respond(ex, ex.getRequestURI().getPath().equals("/fail") ? 503 : 200, "ok");
    });
    fx.policies("127.0.73.10", MtlsMode.STRICT, List.of(), Map.of(web.getPort(), "http"));
    fx.http(List.of(rule("all", "/", to("outbound|80||web.d.svc.cluster.local"))),
        Map.of(cluster("outbound|80||web.d.svc.cluster.local"), List.of(mesh(web))));
  }

  @AfterEach
  void close() {
    held.countDown();
    fx.close();
    telemetry.close();
  }

  private List<SpanData> spans() {
    return telemetry.spans.getFinishedSpanItems();
  }

  private SpanData span(SpanKind kind) {
    return spans().stream().filter(s -> s.getKind() == kind).findFirst().orElseThrow();
  }

  @Test
  void aRequestWithoutTraceContextGetsAClientSpanAndAServerSpanLinkedAcrossTheHboneHop() throws Exception {
    try (RawHttp c = fx.client()) {
      assertThat(c.get("/hello").status()).isEqualTo(200);
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> spans().size() == 2 && telemetry.accessLog.size() == 2);
    SpanData client = span(SpanKind.CLIENT);
    SpanData server = span(SpanKind.SERVER);
    assertThat(server.getTraceId()).isEqualTo(client.getTraceId());
    assertThat(server.getParentSpanId()).as("the destination's span is the source's child").isEqualTo(client.getSpanId());
    assertThat(client.getParentSpanContext().isValid()).as("a new trace").isFalse();
    assertThat(traceparents).singleElement().satisfies(tp -> assertThat(tp)
        .as("the workload sees the server span as its parent").startsWith("00-" + server.getTraceId() + "-"
            + server.getSpanId() + "-"));

    assertThat(client.getAttributes().get(SOURCE_WORKLOAD)).isEqualTo("d/client-0");
    assertThat(client.getAttributes().get(DESTINATION_WORKLOAD)).isEqualTo("web");
    assertThat(client.getAttributes().get(HTTP_RESPONSE_STATUS_CODE)).isEqualTo(200L);
    assertThat(client.getAttributes().get(SECURITY_POLICY)).isEqualTo("mutual_tls");
    assertThat(server.getAttributes().get(SOURCE_PRINCIPAL)).isEqualTo("spiffe://cluster.local/ns/d/sa/client");
    assertThat(server.getAttributes().get(DIRECTION)).isEqualTo("inbound");
    assertThat(server.getAttributes().get(HTTP_REQUEST_METHOD)).isEqualTo("GET");

    assertThat(telemetry.measured("http.client.request.duration")).singleElement().satisfies(m -> {
      assertThat(m.attributes().get(dev.trellis.telemetry.attributes.MeshAttributes.DESTINATION_SERVICE))
          .isEqualTo("web.d.svc.cluster.local");
      assertThat(m.value()).isPositive();
    });
    assertThat(telemetry.measured("http.server.request.duration")).singleElement()
        .satisfies(m -> assertThat(m.attributes().get(HTTP_RESPONSE_STATUS_CODE)).isEqualTo(200L));
    assertThat(telemetry.accessLog).extracting(e -> e.direction() + " " + e.status() + " " + e.traceId())
        .containsExactlyInAnyOrder("outbound 200 " + client.getTraceId(), "inbound 200 " + client.getTraceId());
  }

  @Test
  void theCallersTraceContextIsHonouredAndItsBaggagePassesOn() throws Exception {
    String traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    try (RawHttp c = fx.client()) {
      c.send("GET /x HTTP/1.1\r\nHost: web.d.svc.cluster.local\r\ntraceparent: 00-" + traceId
          + "-00f067aa0ba902b7-01\r\nbaggage: tenant=blue\r\n\r\n");
      assertThat(c.read().status()).isEqualTo(200);
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> spans().size() == 2);
    assertThat(spans()).allSatisfy(s -> assertThat(s.getTraceId()).isEqualTo(traceId));
    assertThat(span(SpanKind.CLIENT).getParentSpanId()).isEqualTo("00f067aa0ba902b7");
  }

  @Test
  void anUnsampledCallerStaysUnsampledAndItsContextStillReachesTheWorkload() throws Exception {
    String tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
    try (RawHttp c = fx.client()) {
      c.send("GET /x HTTP/1.1\r\nHost: web.d.svc.cluster.local\r\ntraceparent: " + tp + "\r\n\r\n");
      assertThat(c.read().status()).isEqualTo(200);
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> telemetry.accessLog.size() == 2);
    assertThat(spans()).isEmpty();
    assertThat(traceparents).singleElement().satisfies(seen -> assertThat(seen)
        .as("the trace goes on, unsampled (each hop names its own span id)")
        .startsWith("00-4bf92f3577b34da6a3ce929d0e0e4736-").endsWith("-00").isNotEqualTo(tp));
    assertThat(telemetry.measured("http.client.request.duration")).hasSize(1);
    assertThat(telemetry.measured("http.server.request.duration")).hasSize(1);
  }

  @Test
  void aLocalReplyIsRecordedWithItsResponseFlag() throws Exception {
    fx.http(List.of(rule("all", "/", to("outbound|80||web.d.svc.cluster.local"))), Map.of(
        new ClusterSpec("outbound|80||web.d.svc.cluster.local", ClusterSpec.LbAlgorithm.ROUND_ROBIN,
            Duration.ofSeconds(2), new ClusterSpec.Breaker(1024, 1024, 0, 3, 0, 0), null), List.of(mesh(web))));
    try (RawHttp c = fx.client()) {
      assertThat(c.get("/").status()).isEqualTo(503);
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> !spans().isEmpty() && !telemetry.accessLog.isEmpty());
    SpanData client = span(SpanKind.CLIENT);
    assertThat(client.getAttributes().get(RESPONSE_FLAGS)).isEqualTo("UO");
    assertThat(client.getStatus().getStatusCode()).isEqualTo(io.opentelemetry.api.trace.StatusCode.ERROR);
    assertThat(telemetry.accessLog).singleElement().satisfies(e -> {
      assertThat(e.status()).isEqualTo(503);
      assertThat(e.responseFlags()).isEqualTo("UO");
    });
  }

  @Test
  void aRequestTimedOutDuringItsFirstAttemptIsLoggedWithThatAttemptAndItsHost() throws Exception {
    fx.http(List.of(rule("all", "/", new RouteTable.Action(List.of(new RouteTable.WeightedCluster(
        "outbound|80||web.d.svc.cluster.local", 1)), Duration.ofMillis(300), null, null, false))),
        Map.of(cluster("outbound|80||web.d.svc.cluster.local"), List.of(mesh(web))));
    try (RawHttp c = fx.client()) {
      RawHttp.Response r = c.get("/held");
      assertThat(r.status()).isEqualTo(504);
      assertThat(r.header("x-trellis-response-flags")).isEqualTo("UT");
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> telemetry.accessLog.stream()
        .anyMatch(e -> e.direction().equals("outbound")));
    // The request went to the workload and got no answer in time: one attempt, to that host (not "attempts 0", which
    // would say no upstream was ever tried).
    assertThat(telemetry.accessLog).filteredOn(e -> e.direction().equals("outbound")).singleElement().satisfies(e -> {
      assertThat(e.status()).isEqualTo(504);
      assertThat(e.responseFlags()).isEqualTo("UT");
      assertThat(e.attempts()).isEqualTo(1);
      assertThat(e.upstreamHost()).isEqualTo("127.0.73.10:" + web.getPort());
    });
  }
}
