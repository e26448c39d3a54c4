package dev.trellis.proxy.http;

import static dev.trellis.proxy.testing.ProxyFixture.cluster;
import static dev.trellis.proxy.testing.ProxyFixture.mesh;
import static dev.trellis.proxy.testing.ProxyFixture.rule;
import static dev.trellis.proxy.testing.ProxyFixture.to;
import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.proxy.state.ClusterSpec.UpstreamProtocol;
import dev.trellis.proxy.testing.H2Caller;
import dev.trellis.proxy.testing.ProxyFixture;
import dev.trellis.proxy.testing.RawHttp;
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
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * An HTTP/1.1 backend that answers with something that is not an HTTP response head (or one whose framing is
 * ambiguous: two different Content-Length values, RFC 9112 section 6.3): the caller gets 502 with the
 * response flag {@code UPE}, never a made-up or passed-on response, and the proxy closes that upstream connection
 * (the backend reads the end of its stream) instead of pooling it; a well-formed answer from the same backend still
 * passes. The backend is an HTTP/1.1 service (its cluster says so), called by HTTP/1.1 and HTTP/2 clients: an HTTP/2
 * caller gets the same 502, and a body that breaks off resets its stream instead of ending it as if complete.
 */
class HostileUpstreamTest {

  private static final String BACKEND = "127.0.73.40";
  /** Ends an answer: the backend closes the connection after writing what comes before it. */
  private static final String CLOSE = "<close>";
  /** The one answer after which the backend expects its connection to be kept for the next request. */
  private static final String WELL_FORMED = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

  private final ProxyFixture fx = new ProxyFixture(new HttpLimits(Duration.ofSeconds(2), Duration.ofSeconds(5)));
  private final ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
  /** What the backend learned of each connection after its answer: "closed" when the proxy closed it. */
  private final BlockingQueue<String> afterAnswer = new LinkedBlockingQueue<>();
  private volatile String answer;

  @AfterEach
  void close() {
    fx.close();
    pool.shutdownNow();
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok",
      "HTTP/1.1 099 Early\r\nContent-Length: 2\r\n\r\nok",
      "HTTP/1.1 600 Beyond\r\nContent-Length: 2\r\n\r\nok",
      "HTTP/1.1 20x OK\r\nContent-Length: 2\r\n\r\nok",
      "GARBAGE\r\n\r\n",
      "SSH-2.0-OpenSSH_9.6\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
      "HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nok",
  })
  void aResponseHeadThatIsNotHttpIsAnswered502UpeAndItsConnectionClosed(String raw) throws Exception {
    start(raw);
    try (RawHttp c = fx.client()) {
      RawHttp.Response r = c.get("/");
      assertThat(r.status()).as("HTTP/1.1 caller, upstream answered %s", raw).isEqualTo(502);
      assertThat(r.header("x-trellis-response-flags")).isEqualTo("UPE");
      assertThat(r.text()).startsWith("upstream sent a malformed response: ").doesNotContain("ok");
    }
    assertThat(afterAnswer.poll(10, TimeUnit.SECONDS)).as("the upstream connection").isEqualTo("closed");
    try (RawHttp c = fx.client()) {
      assertThat(c.get("/again").status()).as("a second request gets a new connection and the same answer")
          .isEqualTo(502);
    }
    assertThat(afterAnswer.poll(10, TimeUnit.SECONDS)).as("the second upstream connection").isEqualTo("closed");
  }

  @Test
  void anUpstreamClosingInItsHeaderSectionGetsNoMadeUpResponse() throws Exception {
    start("HTTP/1.1 200 OK\r\nContent-Le" + CLOSE);
    try (RawHttp c = fx.client()) {
      RawHttp.Response r = c.get("/");
      assertThat(r.status()).as("never the 200 the upstream had begun").isIn(502, 503);
      assertThat(r.header("x-trellis-response-flags")).isIn("UPE", "UC");
    }
  }

  @Test
  void aBodyShorterThanItsContentLengthEndsTheClientsConnectionNeverPadded() throws Exception {
    start("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc" + CLOSE);
    try (RawHttp c = fx.client()) {
      RawHttp.Response r = c.get("/");
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.header("content-length")).isEqualTo("10");
      assertThat(r.text()).as("what the upstream sent, nothing added").isEqualTo("abc");
      assertThat(c.closed()).as("the client's connection ends: the body is short, and says so").isTrue();
    }
  }

  @Test
  void aBrokenChunkInTheBodyEndsTheClientsConnectionNeverReportedComplete() throws Exception {
    start("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nZZ\r\nmore\r\n");
    try (RawHttp c = fx.client()) {
      c.send("GET / HTTP/1.1\r\nHost: web.d.svc.cluster.local\r\n\r\n");
      String all = new String(c.readToEnd(), StandardCharsets.US_ASCII); // returns: the proxy closed
      assertThat(all).as("at most the good chunk, never a last chunk that says the body is complete")
          .doesNotContain("\r\n0\r\n\r\n", "more");
    }
  }

  @Test
  void aWellFormedAnswerOfTheSameBackendPasses() throws Exception {
    start(WELL_FORMED);
    try (RawHttp c = fx.client()) {
      RawHttp.Response r = c.get("/");
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.text()).isEqualTo("ok");
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok",
      "GARBAGE\r\n\r\n",
  })
  void anHttp2CallerGets502UpeForAResponseHeadThatIsNotHttp(String raw) throws Exception {
    start(raw);
    try (H2Caller c = fx.h2Client()) {
      H2Caller.Response r = c.send("GET", "/");
      assertThat(r.status()).as("HTTP/2 caller, upstream answered %s", raw).isEqualTo(502);
      assertThat(r.header("x-trellis-response-flags")).isEqualTo("UPE");
      assertThat(r.body()).startsWith("upstream sent a malformed response: ").doesNotContain("ok");
    }
    assertThat(afterAnswer.poll(10, TimeUnit.SECONDS)).as("the upstream connection").isEqualTo("closed");
  }

  @Test
  void anHttp2CallerGetsNoMadeUpResponseFromAnUpstreamClosingInItsHeaderSection() throws Exception {
    start("HTTP/1.1 200 OK\r\nContent-Le" + CLOSE);
    try (H2Caller c = fx.h2Client()) {
      H2Caller.Response r = c.send("GET", "/");
      assertThat(r.status()).as("never the 200 the upstream had begun").isIn(502, 503);
      assertThat(r.header("x-trellis-response-flags")).isIn("UPE", "UC");
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc" + CLOSE,
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nZZ\r\nmore\r\n",
  })
  void aBodyThatBreaksOffResetsAnHttp2CallersStreamNeverEndsItAsComplete(String raw) throws Exception {
    start(raw);
    try (H2Caller c = fx.h2Client()) {
      H2Caller.Response r = c.send("GET", "/");
      assertThat(r.status()).as("the stream is reset (-1), not ended with END_STREAM").isEqualTo(-1);
    }
  }

  /** A backend on {@link #BACKEND} that answers every request head with {@code raw}, then watches the connection. */
  private void start(String raw) throws IOException {
    answer = raw;
    ServerSocket s = new ServerSocket(0, 50, InetAddress.getByName(BACKEND));
    fx.workload(BACKEND);
    pool.submit(() -> {
      try (s) {
        while (!Thread.currentThread().isInterrupted()) {
          Socket c = s.accept();
          pool.submit(() -> serve(c));
        }
      }
      return null;
    });
    InetSocketAddress web = new InetSocketAddress(BACKEND, s.getLocalPort());
    fx.http(List.of(rule("all", "/", to("web"))), Map.of(cluster("web", UpstreamProtocol.HTTP1), List.of(mesh(web))));
  }

  private Void serve(Socket c) throws IOException {
    try (c; InputStream in = c.getInputStream(); OutputStream out = c.getOutputStream()) {
      while (RawHttp.readRequestHead(in)) {
        out.write(answer.replace(CLOSE, "").getBytes(StandardCharsets.US_ASCII));
        out.flush();
        if (answer.endsWith(CLOSE)) {
          return null;
        }
        if (!answer.equals(WELL_FORMED)) {
          c.setSoTimeout(10_000);
          afterAnswer.add(RawHttp.readRequestHead(in) ? "reused" : "closed");
          return null;
        }
      }
    }
    return null;
  }

}
