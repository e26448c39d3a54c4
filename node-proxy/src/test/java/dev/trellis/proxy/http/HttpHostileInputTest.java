package dev.trellis.proxy.http;

import static dev.trellis.proxy.testing.ProxyFixture.cluster;
import static dev.trellis.proxy.testing.ProxyFixture.mesh;
import static dev.trellis.proxy.testing.ProxyFixture.respond;
import static dev.trellis.proxy.testing.ProxyFixture.rule;
import static dev.trellis.proxy.testing.ProxyFixture.to;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.trellis.proxy.http.HttpLimits;
import dev.trellis.proxy.resilience.CircuitBreaker;
import dev.trellis.proxy.testing.ProxyFixture;
import dev.trellis.proxy.testing.RawHttp;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Hostile and broken clients: each is answered or closed cleanly, the backend never sees a request
 * the proxy could not frame unambiguously, nothing leaks (the fixture fails on any leaked buffer), and
 * the proxy keeps serving well-behaved clients afterwards.
 */
class HttpHostileInputTest {

  private final ProxyFixture fx = new ProxyFixture(new HttpLimits(Duration.ofMillis(300), Duration.ofSeconds(2)));
  private final Queue<String> seen = new ConcurrentLinkedQueue<>();

  @BeforeEach
  void start() throws Exception {
    InetSocketAddress web = fx.backend("127.0.73.10", ex -> {
      byte[] body = ProxyFixture.readAll(ex);
      seen.add(ex.getRequestMethod() + " " + ex.getRequestURI() + " " + body.length);
      respond(ex, 200, "ok " + ex.getRequestURI());
    });
    fx.http(List.of(rule("all", "/", to("web"))), Map.of(cluster("web"), List.of(mesh(web))));
  }

  @AfterEach
  void close() throws Exception {
    try (RawHttp c = fx.client()) {
      assertThat(c.get("/still-serving").status()).as("the proxy serves after the abuse").isEqualTo(200);
    }
    await().atMost(Duration.ofSeconds(5)).until(() ->
        fx.clusters.find("web").breaker().used(CircuitBreaker.Resource.REQUESTS) == 0);
    fx.close();
  }

  private RawHttp.Response refused(String raw) throws Exception {
    try (RawHttp c = fx.client()) {
      c.send(raw);
      RawHttp.Response r = c.read();
      assertThat(c.closed()).as("connection closed after a rejected request").isTrue();
      return r;
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "GARBAGE\r\n\r\n",
      "GET / HTTP/1.1\nHost: web\n\n",
      "GET / HTTP/1.1\r\nHost : web\r\n\r\n",
      "GET / HTTP/1.1\r\nHo\u0000st: web\r\n\r\n",
  })
  void malformedRequestsGet400AndNeverReachTheBackend(String raw) throws Exception {
    assertThat(refused(raw).status()).isEqualTo(400);
    assertThat(seen).isEmpty();
  }

  @Test
  void anHttpVersionOtherThan1xGets505() throws Exception {
    assertThat(refused("GET / HTTP/9.9\r\nHost: web\r\n\r\n").status()).isEqualTo(505);
    assertThat(seen).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(strings = {
      // CL.TE and TE.CL smuggling: both framings in one request.
      "POST / HTTP/1.1\r\nHost: web\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX",
      // Conflicting lengths.
      "POST / HTTP/1.1\r\nHost: web\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
      // A transfer coding that does not end in chunked cannot frame a request.
      "POST / HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
      // A negative length.
      "POST / HTTP/1.1\r\nHost: web\r\nContent-Length: -1\r\n\r\n",
  })
  void ambiguousFramingIsRefusedSoNothingCanBeSmuggled(String raw) throws Exception {
    assertThat(refused(raw).status()).isEqualTo(400);
    assertThat(seen).isEmpty();
  }

  @Test
  void oversizedHeadersGet431() throws Exception {
    String big = "x".repeat(100 * 1024);
    RawHttp.Response r = refused("GET / HTTP/1.1\r\nHost: web\r\nX-Big: " + big + "\r\n\r\n");
    assertThat(r.status()).isEqualTo(431);
    assertThat(seen).isEmpty();
  }

  @Test
  void anOversizedRequestLineGets414() throws Exception {
    RawHttp.Response r = refused("GET /" + "a".repeat(40 * 1024) + " HTTP/1.1\r\nHost: web\r\n\r\n");
    assertThat(r.status()).isEqualTo(414);
    assertThat(seen).isEmpty();
  }

  @Test
  void pipelinedRequestsAreAnsweredInOrderAsSeparateRequests() throws Exception {
    try (RawHttp c = fx.client()) {
      c.send("POST /one HTTP/1.1\r\nHost: web\r\nContent-Length: 3\r\n\r\nabc"
          + "GET /two HTTP/1.1\r\nHost: web\r\n\r\n"
          + "GET /three HTTP/1.1\r\nHost: web\r\n\r\n");
      assertThat(c.read().text()).isEqualTo("ok /one");
      assertThat(c.read().text()).isEqualTo("ok /two");
      assertThat(c.read().text()).isEqualTo("ok /three");
    }
    assertThat(seen).containsExactly("POST /one 3", "GET /two 0", "GET /three 0");
  }

  @Test
  void aSlowHeaderClientGets408() throws Exception {
    try (RawHttp c = fx.client()) {
      c.send("GET / HTTP/1.1\r\nHost: web\r\nX-Slow: ");
      RawHttp.Response r = c.read(); // blocks until the header timeout fires
      assertThat(r.status()).isEqualTo(408);
      assertThat(c.closed()).isTrue();
    }
    assertThat(seen).isEmpty();
  }

  @Test
  void anIdleConnectionIsClosed() throws Exception {
    try (RawHttp c = fx.client()) {
      assertThat(c.get("/a").status()).isEqualTo(200);
      assertThat(c.closed()).as("closed after the idle timeout").isTrue();
    }
  }

  @Test
  void anIdleHttp2ConnectionGetsAGoawayAndIsClosed() throws Exception {
    try (RawHttp c = fx.client()) {
      c.send("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
      c.send(new byte[] {0, 0, 0, 4, 0, 0, 0, 0, 0}); // an empty SETTINGS frame
      byte[] frames = c.readToEnd(); // returns once the idle timeout closed the connection
      List<Integer> types = new java.util.ArrayList<>();
      for (int i = 0; i + 9 <= frames.length; i += 9 + ((frames[i] & 0xff) << 16 | (frames[i + 1] & 0xff) << 8
          | frames[i + 2] & 0xff)) {
        types.add(frames[i + 3] & 0xff);
      }
      assertThat(types).as("frame types the proxy sent").startsWith(4).contains(7); // SETTINGS ... GOAWAY
    }
  }

  @Test
  void aHalfClosedClientStillGetsItsResponse() throws Exception {
    try (RawHttp c = fx.client()) {
      c.send("GET /half HTTP/1.1\r\nHost: web\r\n\r\n").shutdownOutput();
      assertThat(c.read().text()).isEqualTo("ok /half");
      assertThat(c.closed()).isTrue();
    }
  }

  @Test
  void aClientThatVanishesMidBodyLeavesNothingBehind() throws Exception {
    try (RawHttp c = fx.client()) {
      c.send("POST /partial HTTP/1.1\r\nHost: web\r\nContent-Length: 100000\r\n\r\n" + "x".repeat(1000));
    }
    // The close hook checks the request slot comes back and nothing leaked.
  }

  @Test
  void aBrokenChunkedBodyClosesTheConnection() throws Exception {
    try (RawHttp c = fx.client()) {
      c.send("POST /chunks HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n");
      // The headers were fine and the request started; a broken body can only end it.
      boolean answeredOrClosed;
      try {
        answeredOrClosed = c.read().status() >= 400 || c.closed();
      } catch (java.io.IOException e) {
        answeredOrClosed = true;
      }
      assertThat(answeredOrClosed).isTrue();
    }
  }
}
