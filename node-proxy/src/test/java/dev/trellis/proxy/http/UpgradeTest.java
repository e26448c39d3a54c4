package dev.trellis.proxy.http;

import static dev.trellis.proxy.testing.ProxyFixture.cluster;
import static dev.trellis.proxy.testing.ProxyFixture.rule;
import static dev.trellis.proxy.testing.ProxyFixture.to;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.trellis.proxy.cluster.ClusterRuntime;
import dev.trellis.proxy.resilience.CircuitBreaker;
import dev.trellis.proxy.state.ClusterSpec;
import dev.trellis.proxy.state.EndpointSpec;
import dev.trellis.proxy.testing.ProxyFixture;
import dev.trellis.proxy.testing.RawHttp;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * HTTP/1.1 upgrades (WebSocket) through the outbound proxy: the handshake is routed like any request,
 * a 101 turns both connections into a byte relay, a refused upgrade leaves an ordinary keep-alive
 * exchange, and {@code h2c} is not passed on.
 */
class UpgradeTest {

  static final String HANDSHAKE = "GET /chat HTTP/1.1\r\nHost: web.d.svc.cluster.local\r\nUpgrade: websocket\r\n"
      + "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

  private final ProxyFixture fx = new ProxyFixture();
  private final ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
  private final CompletableFuture<String> seenHead = new CompletableFuture<>();
  private final CompletableFuture<Void> serverSawEnd = new CompletableFuture<>();

  @AfterEach
  void close() {
    fx.close();
    pool.shutdownNow();
  }

  /**
   * A WebSocket-ish server on {@code address}: reads the request head, answers 101 with its first
   * message in the same write (so the proxy must pass on bytes that follow the 101), then echoes.
   * With {@code accept} false it answers 200 and keeps serving HTTP.
   */
  private InetSocketAddress server(String address, boolean accept) throws IOException {
    ServerSocket s = new ServerSocket(0, 50, InetAddress.getByName(address));
    fx.workload(address);
    pool.submit(() -> {
      while (!s.isClosed()) {
        Socket c = s.accept();
        pool.submit(() -> {
          try (c; InputStream in = c.getInputStream(); OutputStream out = c.getOutputStream()) {
            while (true) {
              String head = head(in);
              if (head == null) {
                return null;
              }
              seenHead.complete(head);
              if (!accept) {
                out.write("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nno thank".getBytes(StandardCharsets.US_ASCII));
                continue;
              }
              String key = header(head, "sec-websocket-key");
              String acceptKey = Base64.getEncoder().encodeToString(MessageDigest.getInstance("SHA-1").digest(
                  (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").getBytes(StandardCharsets.US_ASCII)));
              out.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  + "Sec-WebSocket-Accept: " + acceptKey + "\r\n\r\nserver-first").getBytes(StandardCharsets.US_ASCII));
              out.flush();
              in.transferTo(out);
              serverSawEnd.complete(null);
              return null;
            }
          }
        });
      }
      return null;
    });
    return new InetSocketAddress(address, s.getLocalPort());
  }

  private static String head(InputStream in) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    while (true) {
      int c = in.read();
      if (c < 0) {
        return null;
      }
      b.write(c);
      String s = b.toString(StandardCharsets.ISO_8859_1);
      if (s.endsWith("\r\n\r\n")) {
        return s;
      }
    }
  }

  private static String header(String head, String name) {
    return head.lines().filter(l -> l.toLowerCase(Locale.ROOT).startsWith(name + ":"))
        .map(l -> l.substring(l.indexOf(':') + 1).strip()).findFirst().orElse(null);
  }

  private ClusterRuntime route(InetSocketAddress backend, Function<InetSocketAddress, EndpointSpec> endpoint) {
    ClusterSpec c = cluster("ws");
    fx.http(List.of(rule("all", "/", to("ws"))), Map.of(c, List.of(endpoint.apply(backend))));
    return fx.clusters.find("ws");
  }

  private void relaysAWebSocket(Function<InetSocketAddress, EndpointSpec> endpoint) throws Exception {
    ClusterRuntime cluster = route(server("127.0.73.40", true), endpoint);
    try (RawHttp c = fx.client()) {
      RawHttp.Response r = c.send(HANDSHAKE).read();
      assertThat(r.status()).isEqualTo(101);
      assertThat(r.header("upgrade")).isEqualTo("websocket");
      assertThat(r.header("connection")).isEqualToIgnoringCase("upgrade");
      assertThat(r.header("sec-websocket-accept")).isEqualTo("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
      assertThat(new String(c.readN(12), StandardCharsets.US_ASCII)).isEqualTo("server-first");

      String head = seenHead.get(5, TimeUnit.SECONDS);
      assertThat(header(head, "upgrade")).isEqualTo("websocket");
      assertThat(header(head, "connection")).isEqualToIgnoringCase("upgrade");
      assertThat(header(head, "sec-websocket-key")).isEqualTo("dGhlIHNhbXBsZSBub25jZQ==");

      byte[] data = new byte[256 * 1024];
      new Random(3).nextBytes(data);
      CompletableFuture<byte[]> back = CompletableFuture.supplyAsync(() -> {
        try {
          return c.readN(data.length);
        } catch (IOException e) {
          throw new RuntimeException(e);
        }
      }, pool);
      c.send(data);
      assertThat(back.get(10, TimeUnit.SECONDS)).isEqualTo(data);
      assertThat(cluster.breaker().used(CircuitBreaker.Resource.REQUESTS)).as("the handshake's request slot").isZero();
      assertThat(cluster.breaker().used(CircuitBreaker.Resource.CONNECTIONS)).as("the relayed connection").isEqualTo(1);
    }
    serverSawEnd.get(10, TimeUnit.SECONDS);
    await().atMost(Duration.ofSeconds(5))
        .until(() -> cluster.breaker().used(CircuitBreaker.Resource.CONNECTIONS) == 0);
  }

  @Test
  void aWebSocketToAMeshEndpointBecomesAByteRelayOverHbone() throws Exception {
    relaysAWebSocket(ProxyFixture::mesh);
  }

  @Test
  void aWebSocketToAnEndpointOutsideTheMeshBecomesAByteRelay() throws Exception {
    relaysAWebSocket(ProxyFixture::direct);
  }

  @Test
  void aRefusedUpgradeLeavesAnOrdinaryKeepAliveExchange() throws Exception {
    route(server("127.0.73.41", false), ProxyFixture::mesh);
    try (RawHttp c = fx.client()) {
      RawHttp.Response r = c.send(HANDSHAKE).read();
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.text()).isEqualTo("no thank");
      assertThat(r.header("upgrade")).isNull();
      RawHttp.Response second = c.get("/again");
      assertThat(second.status()).isEqualTo(200);
    }
  }

  @Test
  void h2cUpgradesAreNotPassedOn() throws Exception {
    route(server("127.0.73.42", false), ProxyFixture::mesh);
    try (RawHttp c = fx.client()) {
      RawHttp.Response r = c.send("GET / HTTP/1.1\r\nHost: web\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n"
          + "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n").read();
      assertThat(r.status()).isEqualTo(200);
    }
    String head = seenHead.get(5, TimeUnit.SECONDS);
    assertThat(header(head, "upgrade")).isNull();
    assertThat(header(head, "http2-settings")).isNull();
    assertThat(header(head, "connection")).isNull();
  }
}
