package dev.trellis.proxy.http;

import static dev.trellis.proxy.testing.ProxyFixture.cluster;
import static dev.trellis.proxy.testing.ProxyFixture.direct;
import static dev.trellis.proxy.testing.ProxyFixture.mesh;
import static dev.trellis.proxy.testing.ProxyFixture.rule;
import static dev.trellis.proxy.testing.ProxyFixture.to;
import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.proxy.state.LocalWorkload.MtlsMode;
import dev.trellis.proxy.testing.ProxyFixture;
import dev.trellis.proxy.testing.RawHttp;
import dev.trellis.proxy.testing.RecordingBackend;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A connection to an HTTP service that never says which protocol it speaks is closed after the first-byte timeout
 * (300 ms here; the idle timeout is an hour, the client's read timeout 20 s, so waiting for either fails the test),
 * on the outbound entry and the plaintext inbound port. A quiet keep-alive connection after a request, and a raw TCP
 * connection whose server speaks first, are not touched by it.
 */
class FirstByteTimeoutTest {

  private static final String WEB = "127.0.73.45";
  private static final Duration FIRST_BYTE = Duration.ofMillis(300);

  private final ProxyFixture fx = new ProxyFixture(new HttpLimits(Duration.ofSeconds(5), Duration.ofHours(1))
      .withFirstByteTimeout(FIRST_BYTE));
  private final ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();

  @AfterEach
  void close() {
    fx.close();
    pool.shutdownNow();
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "P", "PRI * HTTP/2.0\r\n"})
  void anOutboundConnectionThatNeverSaysItsProtocolIsClosedAfterTheFirstByteTimeout(String sent) throws Exception {
    http();
    try (RawHttp c = fx.client()) {
      c.send(sent);
      assertThat(c.closed()).as("closed by the proxy after %d bytes and silence", sent.length()).isTrue();
    }
  }

  @Test
  void anInboundPlaintextConnectionThatSendsNothingIsClosedAfterTheFirstByteTimeout() throws Exception {
    RecordingBackend web = http();
    fx.policies(WEB, MtlsMode.PERMISSIVE, List.of(), Map.of(web.address().getPort(), "http"));
    http(web);
    try (RawHttp c = fx.plaintextClient(WEB, web.address().getPort())) {
      assertThat(c.closed()).as("closed by the proxy").isTrue();
    }
  }

  @Test
  void aQuietKeepAliveConnectionAfterARequestOutlivesTheFirstByteTimeout() throws Exception {
    http();
    try (RawHttp c = fx.client()) {
      assertThat(c.get("/").status()).isEqualTo(200);
      assertThat(c.openFor(FIRST_BYTE.multipliedBy(5))).as("still open; only the idle timeout ends it").isTrue();
      assertThat(c.get("/again").status()).isEqualTo(200);
    }
  }

  @Test
  void aTcpConnectionWhoseServerSpeaksFirstOutlivesTheFirstByteTimeout() throws Exception {
    ServerSocket s = new ServerSocket(0, 50, InetAddress.getByName(WEB));
    pool.submit(() -> {
      try (s; Socket c = s.accept(); InputStream in = c.getInputStream(); OutputStream out = c.getOutputStream()) {
        out.write("220 ready\r\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
        in.transferTo(out); // then echoes
      }
      return null;
    });
    fx.tcp(cluster("db"), List.of(direct(new InetSocketAddress(WEB, s.getLocalPort()))));
    try (RawHttp c = fx.client()) {
      assertThat(new String(c.readN(11), StandardCharsets.US_ASCII)).isEqualTo("220 ready\r\n");
      assertThat(c.openFor(FIRST_BYTE.multipliedBy(5))).as("the client may stay quiet on a TCP service").isTrue();
      c.send("HELO\r\n");
      assertThat(new String(c.readN(6), StandardCharsets.US_ASCII)).isEqualTo("HELO\r\n");
    }
  }

  /**
   * HBONE (15008) has no first-byte timeout of its own: its TLS handshake must finish within 10 s, Netty's default, on
   * a workload's address and on the node's (where the ClientHello's server name picks the certificate) alike.
   */
  @Test
  void aSilentConnectionToTheHboneServerIsClosedByTheTlsHandshakeTimeout() throws Exception {
    try (Socket s = new Socket()) {
      s.connect(fx.hbone.address(), 5000);
      s.setSoTimeout(15_000);
      assertThat(s.getInputStream().read()).as("closed by the proxy within 15 s").isEqualTo(-1);
    }
  }

  private RecordingBackend http() throws IOException {
    RecordingBackend web = fx.recordingBackend(WEB);
    http(web);
    return web;
  }

  private void http(RecordingBackend web) {
    fx.http(List.of(rule("all", "/", to("web"))), Map.of(cluster("web"), List.of(mesh(web.address()))));
  }
}
