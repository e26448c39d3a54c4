package dev.trellis.proxy.outbound;

import static dev.trellis.proxy.testing.ProxyFixture.cluster;
import static dev.trellis.proxy.testing.ProxyFixture.mesh;
import static dev.trellis.telemetry.attributes.MeshAttributes.NETWORK_IO_DIRECTION;
import static dev.trellis.telemetry.attributes.MeshAttributes.SOURCE_WORKLOAD;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.trellis.proxy.http.HttpLimits;
import dev.trellis.proxy.testing.ProxyFixture;
import dev.trellis.proxy.testing.RawHttp;
import dev.trellis.proxy.testing.RecordingTelemetry;
import io.opentelemetry.api.trace.SpanKind;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** A proxied TCP connection's telemetry: bytes both ways, opened and closed, a connection span, an access-log line. */
class TcpTelemetryTest {

  private final RecordingTelemetry telemetry = new RecordingTelemetry();
  private final ProxyFixture fx = new ProxyFixture(HttpLimits.DEFAULTS, telemetry);
  private final ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();

  @AfterEach
  void close() {
    fx.close();
    pool.shutdownNow();
    telemetry.close();
  }

  private InetSocketAddress echo(String address) throws IOException {
    return TcpProxyTest.echo(fx, pool, address);
  }

  @Test
  void aTcpConnectionIsMeasuredBothWaysAndLogged() throws Exception {
    InetSocketAddress e = echo("127.0.73.30");
    fx.tcp(cluster("db"), List.of(mesh(e)));
    try (RawHttp c = fx.client()) {
      c.send("ping-pong");
      assertThat(new String(c.readN(9), StandardCharsets.UTF_8)).isEqualTo("ping-pong");
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> telemetry.measured("trellis.tcp.connections.CLOSED").size() == 1);
    assertThat(telemetry.measured("trellis.tcp.connections.OPENED")).singleElement()
        .satisfies(m -> assertThat(m.attributes().get(SOURCE_WORKLOAD)).isEqualTo("d/client-0"));
    assertThat(telemetry.measured("trellis.tcp.io")).extracting(m -> m.attributes().get(NETWORK_IO_DIRECTION) + "="
        + m.value()).contains("receive=9").anySatisfy(s -> assertThat(s).startsWith("transmit="));
    assertThat(telemetry.measured("trellis.tcp.io")).filteredOn(m -> "transmit".equals(m.attributes()
        .get(NETWORK_IO_DIRECTION))).singleElement().satisfies(m -> assertThat(m.value())
        .as("the echo, plus the SOCKS reply of the local-mode entry").isGreaterThanOrEqualTo(9));
    assertThat(telemetry.spans.getFinishedSpanItems()).singleElement().satisfies(s -> {
      assertThat(s.getKind()).isEqualTo(SpanKind.CLIENT);
      assertThat(s.getName()).isEqualTo("tcp db");
    });
    assertThat(telemetry.accessLog).singleElement().satisfies(l -> {
      assertThat(l.protocol()).isEqualTo("TCP");
      assertThat(l.bytesReceived()).isEqualTo(9);
    });
  }

  @Test
  void aConnectionThatCannotReachItsServiceIsRecordedAsFailed() throws Exception {
    fx.tcp(cluster("db"), List.of());
    try (RawHttp c = fx.client()) {
      // the entry refuses the SOCKS connect
    } catch (IOException expected) {
      // refused: what the test wants
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> telemetry.measured("trellis.tcp.connections.FAILED").size() == 1);
    assertThat(telemetry.accessLog).singleElement().satisfies(l -> assertThat(l.error()).isNotBlank());
  }
}
