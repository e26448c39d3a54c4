package dev.trellis.proxy.drain;

import static dev.trellis.proxy.testing.ProxyFixture.cluster;
import static dev.trellis.proxy.testing.ProxyFixture.direct;
import static dev.trellis.proxy.testing.ProxyFixture.rule;
import static dev.trellis.proxy.testing.ProxyFixture.to;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.trellis.proxy.state.ClusterSpec;
import dev.trellis.proxy.testing.H2Caller;
import dev.trellis.proxy.testing.ProxyFixture;
import dev.trellis.proxy.testing.RawHttp;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The drain a node proxy runs on SIGTERM, over real sockets through the proxy's real listeners and pipelines (two
 * event loops): what each kind of client sees, and that the drain ends as soon as nothing is left.
 */
class DrainTest {

  private final ProxyFixture fx = new ProxyFixture();
  private final ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
  /** Released to let the slow backend answer. */
  private final CountDownLatch release = new CountDownLatch(1);
  private final CountDownLatch slowArrived = new CountDownLatch(1);

  @AfterEach
  void close() {
    release.countDown();
    pool.shutdownNow();
    fx.close();
  }

  /** An HTTP/1.1 backend: /slow answers once released, anything else at once. */
  private void routeToBackend(ClusterSpec.UpstreamProtocol upstream) throws Exception {
    InetSocketAddress b = slowBackend("127.0.73.40");
    fx.http(List.of(rule("all", "/", to("web"))), Map.of(cluster("web", upstream), List.of(direct(b))));
  }

  private InetSocketAddress slowBackend(String address) throws Exception {
    return fx.backend(address, ex -> {
      ProxyFixture.readAll(ex);
      if (ex.getRequestURI().getPath().equals("/slow")) {
        slowArrived.countDown();
        try {
          release.await(20, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      ProxyFixture.respond(ex, 200, "ok");
    });
  }

  @Test
  void aRequestInFlightOverHboneCompletesAndTheHboneConnectionThenClosesWithoutWaitingForTheTimeout()
      throws Exception {
    InetSocketAddress b = slowBackend("127.0.73.41");
    fx.http(List.of(rule("all", "/", to("web"))),
        Map.of(cluster("web", ClusterSpec.UpstreamProtocol.HTTP1), List.of(ProxyFixture.mesh(b))));
    try (RawHttp c = fx.client()) {
      c.send("GET /slow HTTP/1.1\r\nhost: web.d.svc.cluster.local\r\n\r\n");
      assertThat(slowArrived.await(10, TimeUnit.SECONDS)).isTrue();
      assertThat(fx.connections.open()).as("the entry connection and the HBONE connection").isEqualTo(2);
      CompletableFuture<ConnectionDrain.Result> drained = fx.drain(Duration.ofSeconds(20));
      await().atMost(Duration.ofSeconds(5)).until(fx.connections::draining);
      release.countDown();
      RawHttp.Response r = c.read();
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.header("connection")).isEqualToIgnoringCase("close");
      // The source does not park its upstream connection on an HBONE connection that got GOAWAY: it closes it, the
      // stream ends, and the HBONE connection closes with no stream left.
      ConnectionDrain.Result result = drained.get(10, TimeUnit.SECONDS);
      assertThat(result.closedAtTimeout()).isZero();
      assertThat(result.took()).isLessThan(Duration.ofSeconds(10));
    }
  }

  @Test
  void anHttp1RequestInFlightCompletesWithConnectionCloseAndTheConnectionThenCloses() throws Exception {
    routeToBackend(ClusterSpec.UpstreamProtocol.HTTP1);
    try (RawHttp c = fx.client()) {
      c.send("GET /slow HTTP/1.1\r\nhost: web.d.svc.cluster.local\r\n\r\n");
      assertThat(slowArrived.await(10, TimeUnit.SECONDS)).isTrue();
      CompletableFuture<ConnectionDrain.Result> drained = fx.drain(Duration.ofSeconds(20));
      await().atMost(Duration.ofSeconds(5)).until(fx.connections::draining);
      release.countDown();
      RawHttp.Response r = c.read();
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.header("connection")).isEqualToIgnoringCase("close");
      assertThat(c.closed()).as("the connection closes after the response").isTrue();
      assertThat(drained.get(5, TimeUnit.SECONDS).closedAtTimeout()).as("finished well before the timeout").isZero();
    }
  }

  @Test
  void anIdleKeepAliveHttp1ConnectionIsClosedOnceItHasBeenQuietLongBeforeTheTimeout() throws Exception {
    routeToBackend(ClusterSpec.UpstreamProtocol.HTTP1);
    try (RawHttp c = fx.client()) {
      assertThat(c.get("/").status()).isEqualTo(200);
      CompletableFuture<ConnectionDrain.Result> drained = fx.drain(Duration.ofSeconds(20));
      assertThat(c.closed()).isTrue();
      assertThat(drained.get(5, TimeUnit.SECONDS).closedAtTimeout()).isZero();
    }
  }

  /**
   * The race CI's chaos suite hit: a keep-alive client sends its next request just as the drain begins. Closing the
   * idle connection at once lost that request (h2load: "errored"); now the connection waits for a quiet second and the
   * request is answered, with Connection: close.
   */
  @Test
  void aKeepAliveClientsNextRequestAsTheDrainBeginsIsAnsweredWithConnectionClose() throws Exception {
    routeToBackend(ClusterSpec.UpstreamProtocol.HTTP1);
    try (RawHttp c = fx.client()) {
      assertThat(c.get("/").status()).isEqualTo(200);
      CompletableFuture<ConnectionDrain.Result> drained = fx.drain(Duration.ofSeconds(20));
      await().atMost(Duration.ofSeconds(5)).until(fx.connections::draining);
      assertThat(c.openFor(Duration.ofMillis(300))).as("not closed at once").isTrue();
      RawHttp.Response r = c.get("/");
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.header("connection")).isEqualToIgnoringCase("close");
      assertThat(c.closed()).as("the connection closes after that response").isTrue();
      assertThat(drained.get(5, TimeUnit.SECONDS).closedAtTimeout()).isZero();
    }
  }

  @Test
  void aNewConnectionAfterTheDrainStartsIsRefused() throws Exception {
    routeToBackend(ClusterSpec.UpstreamProtocol.HTTP1);
    InetSocketAddress entry = fx.entry.address();
    fx.drain(Duration.ofSeconds(20)).get(5, TimeUnit.SECONDS);
    assertThatThrownBy(() -> {
      try (Socket s = new Socket()) {
        // From another address than the listener's: a client port equal to the freed listener port cannot then
        // connect the socket to itself (TCP simultaneous open), which would look like an accepted connection.
        s.bind(new InetSocketAddress("127.0.0.2", 0));
        s.connect(entry, 2000);
      }
    }).isInstanceOf(ConnectException.class);
  }

  @Test
  void anHttp2ClientGetsGoAwayAndItsOpenStreamCompletes() throws Exception {
    routeToBackend(ClusterSpec.UpstreamProtocol.HTTP1);
    try (H2Caller h2 = fx.h2Client()) {
      CompletableFuture<H2Caller.Response> slow = h2.start("GET", "/slow", List.of(), null);
      assertThat(slowArrived.await(10, TimeUnit.SECONDS)).isTrue();
      // a busy connection gets its notice a quarter of the timeout into the drain: 1 s here
      CompletableFuture<ConnectionDrain.Result> drained = fx.drain(Duration.ofSeconds(4));
      await().atMost(Duration.ofSeconds(3)).until(h2::goAwayReceived);
      assertThat(slow).isNotDone();
      release.countDown();
      assertThat(slow.get(10, TimeUnit.SECONDS).status()).isEqualTo(200);
      await().atMost(Duration.ofSeconds(5)).until(h2::closed);
      assertThat(drained.get(5, TimeUnit.SECONDS).closedAtTimeout()).isZero();
    }
  }

  /**
   * The race CI's chaos suite hit with h2load: streams a client opens while the drain's GOAWAY travels. The first
   * GOAWAY is a notice naming the largest stream id, so such a stream is served, not refused.
   */
  @Test
  void aStreamTheClientOpensAfterTheGoAwayNoticeIsStillServed() throws Exception {
    routeToBackend(ClusterSpec.UpstreamProtocol.HTTP1);
    try (H2Caller h2 = fx.h2Client()) {
      assertThat(h2.start("GET", "/", List.of(), null).get(10, TimeUnit.SECONDS).status()).isEqualTo(200);
      CompletableFuture<ConnectionDrain.Result> drained = fx.drain(Duration.ofSeconds(20));
      await().atMost(Duration.ofSeconds(5)).until(h2::goAwayReceived);
      assertThat(h2.lastStreamIdInGoAway()).as("the notice").isEqualTo(Integer.MAX_VALUE);
      assertThat(h2.start("GET", "/", List.of(), null).get(10, TimeUnit.SECONDS).status()).isEqualTo(200);
      await().atMost(Duration.ofSeconds(5)).until(h2::closed);
      assertThat(h2.lastStreamIdInGoAway()).as("the final GOAWAY names the client's last stream")
          .isEqualTo(h2.lastStreamOpened()).isLessThan(Integer.MAX_VALUE);
      assertThat(drained.get(5, TimeUnit.SECONDS).closedAtTimeout()).isZero();
    }
  }

  /**
   * The race CI's chaos suite hit next: an h2load burst whose connection the old proxy accepted as its drain began.
   * h2load fails every request it has not sent once a GOAWAY arrives, so a downstream HTTP/2 client in the middle of a
   * batch gets no notice until it has been quiet for a second (or a quarter of the drain timeout, at most 5 s, passed).
   */
  @Test
  void aDownstreamHttp2ClientInTheMiddleOfABatchGetsNoGoAwayUntilItHasBeenQuiet() throws Exception {
    routeToBackend(ClusterSpec.UpstreamProtocol.HTTP1);
    try (H2Caller h2 = fx.h2Client()) {
      assertThat(h2.start("GET", "/", List.of(), null).get(10, TimeUnit.SECONDS).status()).isEqualTo(200);
      CompletableFuture<ConnectionDrain.Result> drained = fx.drain(Duration.ofSeconds(20));
      long batchEnds = System.nanoTime() + Duration.ofMillis(1500).toNanos();
      int served = 0;
      while (System.nanoTime() < batchEnds) {
        assertThat(h2.goAwayReceived()).as("GOAWAY during the batch, after %d requests", served).isFalse();
        assertThat(h2.start("GET", "/", List.of(), null).get(10, TimeUnit.SECONDS).status()).isEqualTo(200);
        served++;
      }
      await().atMost(Duration.ofSeconds(5)).until(h2::goAwayReceived);
      await().atMost(Duration.ofSeconds(5)).until(h2::closed);
      assertThat(drained.get(5, TimeUnit.SECONDS).closedAtTimeout()).isZero();
    }
  }

  @Test
  void aRawTcpStreamStillOpenAtTheDrainTimeoutIsCutAndCounted() throws Exception {
    fx.tcp(cluster("db"), List.of());
    try (ServerSocket outside = new ServerSocket(0, 5, InetAddress.getByName("127.0.74.9"))) {
      pool.submit(() -> {
        try (Socket c = outside.accept(); InputStream in = c.getInputStream(); OutputStream out = c.getOutputStream()) {
          in.transferTo(out);
        }
        return null;
      });
      try (RawHttp c = RawHttp.socks(fx.entry.address(), "127.0.0.1", "127.0.74.9", outside.getLocalPort())) {
        c.send("ping");
        assertThat(new String(c.readN(4), StandardCharsets.UTF_8)).isEqualTo("ping");
        CompletableFuture<ConnectionDrain.Result> drained = fx.drain(Duration.ofMillis(500));
        c.send("pong"); // the stream still works while the drain waits
        assertThat(new String(c.readN(4), StandardCharsets.UTF_8)).isEqualTo("pong");
        assertThat(drained.get(5, TimeUnit.SECONDS).closedAtTimeout()).isEqualTo(1);
        assertThat(c.closed()).isTrue();
        assertThat(fx.connections.closedAtTimeout()).isEqualTo(1);
      }
    }
  }

  @Test
  void aDrainWithNothingLeftEndsAtOnceNotAtItsTimeout() throws Exception {
    routeToBackend(ClusterSpec.UpstreamProtocol.HTTP1);
    try (RawHttp c = fx.client()) {
      assertThat(c.get("/").status()).isEqualTo(200);
    }
    await().atMost(Duration.ofSeconds(5)).until(() -> fx.connections.open() == 0);
    ConnectionDrain.Result r = fx.drain(Duration.ofMinutes(5)).get(5, TimeUnit.SECONDS);
    assertThat(r.closedAtTimeout()).isZero();
    assertThat(r.took()).isLessThan(Duration.ofSeconds(5));
  }
}
