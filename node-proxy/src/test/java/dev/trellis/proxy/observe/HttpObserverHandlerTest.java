package dev.trellis.proxy.observe;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.proxy.testing.RecordingTelemetry;
import dev.trellis.telemetry.attributes.MeshAttributes;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.sdk.trace.data.SpanData;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The destination's passive HTTP/1.1 observer on a workload connection: one SERVER span, duration sample and
 * access-log line per exchange, pipelined requests matched to responses in order, the traceparent the workload
 * receives naming the server span, every other byte relayed untouched, and a clean retreat from what it cannot
 * follow.
 */
class HttpObserverHandlerTest {

  private static final String CALLER = "spiffe://cluster.local/ns/d/sa/client";
  private static final LocalWorkload WEB = new LocalWorkload("web-0", "d",
      SpiffeId.parse("spiffe://cluster.local/ns/d/sa/web"), List.of("127.0.0.1"), true,
      LocalWorkload.MtlsMode.STRICT, Map.of(), List.of(), Map.of(8080, "http"));

  private final RecordingTelemetry telemetry = new RecordingTelemetry();
  private final List<String> unobserved = new ArrayList<>();
  private final EmbeddedChannel workload =
      new EmbeddedChannel(new HttpObserverHandler(telemetry, WEB, CALLER, unobserved::add));

  @AfterEach
  void close() {
    workload.finishAndReleaseAll();
    telemetry.close();
  }

  /** Writes request bytes toward the workload; returns what reached it. */
  private String request(String text) {
    workload.writeAndFlush(Unpooled.copiedBuffer(text, StandardCharsets.ISO_8859_1));
    StringBuilder out = new StringBuilder();
    for (ByteBuf b; (b = workload.readOutbound()) != null; b.release()) {
      out.append(b.toString(StandardCharsets.ISO_8859_1));
    }
    return out.toString();
  }

  /** Feeds response bytes from the workload; returns what went on toward the caller. */
  private String respond(String text) {
    workload.writeInbound(Unpooled.copiedBuffer(text, StandardCharsets.ISO_8859_1));
    StringBuilder out = new StringBuilder();
    for (ByteBuf b; (b = workload.readInbound()) != null; b.release()) {
      out.append(b.toString(StandardCharsets.ISO_8859_1));
    }
    return out.toString();
  }

  private List<SpanData> spans() {
    return telemetry.spans.getFinishedSpanItems();
  }

  @Test
  void pipelinedExchangesEachGetAServerSpanWithTheirOwnStatusAndTheBytesPassUnchanged() {
    String requests = "GET /a HTTP/1.1\r\nHost: web\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz";
    assertThat(request(requests)).isEqualTo(requests);
    assertThat(spans()).isEmpty();
    String responses = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        + "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
    assertThat(respond(responses)).isEqualTo(responses);

    assertThat(spans()).extracting(s -> s.getKind() + " " + s.getName() + " "
            + s.getAttributes().get(MeshAttributes.HTTP_RESPONSE_STATUS_CODE))
        .containsExactly("SERVER GET 200", "SERVER POST 503");
    assertThat(spans().getFirst().getAttributes().get(MeshAttributes.SOURCE_PRINCIPAL)).isEqualTo(CALLER);
    assertThat(spans().getFirst().getAttributes().get(MeshAttributes.DESTINATION_WORKLOAD)).isEqualTo("web-0");
    assertThat(telemetry.measured("http.server.request.duration")).hasSize(2);
    assertThat(telemetry.accessLog).extracting(e -> e.method() + " " + e.path() + " " + e.status() + " "
        + e.bytesReceived() + " " + e.bytesSent())
        .containsExactly("GET /a 200 30 40", "POST /b 503 42 55");
    assertThat(unobserved).isEmpty();
  }

  @Test
  void theWorkloadReceivesTheServerSpanAsItsParentInPlaceOfTheCallers() {
    String caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    String seen = request("GET / HTTP/1.1\r\ntraceparent: " + caller + "\r\n\r\n");
    respond("HTTP/1.1 204 No Content\r\n\r\n");

    SpanData server = spans().getFirst();
    assertThat(server.getKind()).isEqualTo(SpanKind.SERVER);
    assertThat(server.getParentSpanId()).isEqualTo("00f067aa0ba902b7");
    assertThat(seen).isEqualTo("GET / HTTP/1.1\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-"
        + server.getSpanId() + "-01\r\n\r\n");
  }

  @Test
  void aConnectionClosedBeforeItsResponseEndsRecordsTheExchangeAsReset() {
    request("GET /slow HTTP/1.1\r\n\r\n");
    respond("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    workload.close();

    assertThat(telemetry.accessLog).singleElement().satisfies(e -> {
      assertThat(e.status()).isEqualTo(200);
      assertThat(e.error()).isEqualTo("response_reset");
    });
  }

  @Test
  void aResponseDelimitedByTheCloseEndsWithIt() {
    request("GET / HTTP/1.0\r\n\r\n");
    respond("HTTP/1.0 200 OK\r\n\r\nbody until close");
    assertThat(spans()).isEmpty();
    workload.close();
    assertThat(telemetry.accessLog).singleElement().satisfies(e -> {
      assertThat(e.status()).isEqualTo(200);
      assertThat(e.error()).isNull();
    });
  }

  @Test
  void malformedFramingIsRelayedUnobservedAndCounted() {
    String garbage = "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
    assertThat(request(garbage)).isEqualTo(garbage);
    assertThat(workload.pipeline().get(HttpObserverHandler.class)).isNull();
    assertThat(unobserved).containsExactly("malformed request head");
    assertThat(respond("HTTP/1.1 400 Bad Request\r\n\r\n")).hasSize(28);
    assertThat(telemetry.accessLog).isEmpty();
  }

  @Test
  void anUpgradeEndsTheExchangeAtItsSwitchingProtocolsAndTheTunnelIsNotParsed() {
    request("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    String frames = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\u0081\u0002hi";
    assertThat(respond(frames)).isEqualTo(frames);
    assertThat(telemetry.accessLog).singleElement().satisfies(e -> assertThat(e.status()).isEqualTo(101));
    assertThat(workload.pipeline().get(HttpObserverHandler.class)).isNull();
    assertThat(unobserved).as("an upgrade is not a failure to observe").isEmpty();
  }

  @Test
  void repeatedExchangesOfOneSeriesHandTheMetricsTheSameAttributesInstance() {
    request("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n");
    respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        + "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");

    var measured = telemetry.measured("http.server.request.duration");
    assertThat(measured).hasSize(3);
    assertThat(measured.get(1).attributes()).as("same series: the cached instance").isSameAs(measured.get(0).attributes());
    assertThat(measured.get(2).attributes()).isNotSameAs(measured.get(0).attributes());
    assertThat(measured.get(2).attributes().get(MeshAttributes.HTTP_RESPONSE_STATUS_CODE)).isEqualTo(404L);
  }
}
