package dev.trellis.proxy.http;

import static dev.trellis.proxy.testing.ProxyFixture.cluster;
import static dev.trellis.proxy.testing.ProxyFixture.mesh;
import static dev.trellis.proxy.testing.ProxyFixture.respond;
import static dev.trellis.proxy.testing.ProxyFixture.rule;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.trellis.proxy.cluster.ClusterRuntime;
import dev.trellis.proxy.route.RouteTable;
import dev.trellis.proxy.state.ClusterSpec;
import dev.trellis.proxy.state.EndpointSpec;
import dev.trellis.proxy.testing.ProxyFixture;
import dev.trellis.proxy.testing.RawHttp;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Retries, circuit breaking, outlier detection and timeouts with Envoy's semantics, on loopback. */
class HttpResilienceTest {

  private final ProxyFixture fx = new ProxyFixture();

  @AfterEach
  void close() {
    fx.close();
  }

  static RouteTable.RetrySpec retry(String on, int num, Duration perTry) {
    return new RouteTable.RetrySpec(Set.of(on.split(",")), num, perTry, Duration.ofMillis(1), Duration.ofMillis(5),
        Set.of());
  }

  static RouteTable.Action action(String cluster, Duration timeout, RouteTable.RetrySpec retry) {
    return new RouteTable.Action(List.of(new RouteTable.WeightedCluster(cluster, 1)), timeout, retry, null, false);
  }

  static ClusterSpec clusterWith(String name, ClusterSpec.Breaker breaker, ClusterSpec.Outlier outlier) {
    return new ClusterSpec(name, ClusterSpec.LbAlgorithm.ROUND_ROBIN, Duration.ofSeconds(2), breaker, outlier);
  }

  private ClusterRuntime runtime(String name) {
    return fx.clusters.find(name);
  }

  private static String sha256(byte[] b) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
  }

  @Test
  void aFlakyBackendIsHiddenByRetries() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    InetSocketAddress web = fx.backend("127.0.73.10", ex -> respond(ex, calls.incrementAndGet() <= 2 ? 503 : 200, "n" + calls.get()));
    fx.http(List.of(rule("all", "/", action("web", null, retry("5xx", 3, null)))),
        Map.of(cluster("web"), List.of(mesh(web))));
    try (RawHttp c = fx.client()) {
      RawHttp.Response r = c.get("/");
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.text()).isEqualTo("n3");
    }
    assertThat(runtime("web").stats().retries.get()).isEqualTo(2);
  }

  @Test
  void withoutARetryPolicyTheFailureReachesTheClient() throws Exception {
    InetSocketAddress web = fx.backend("127.0.73.10", ex -> respond(ex, 503, "down"));
    fx.http(List.of(rule("all", "/", action("web", null, null))), Map.of(cluster("web"), List.of(mesh(web))));
    try (RawHttp c = fx.client()) {
      RawHttp.Response r = c.get("/");
      assertThat(r.status()).isEqualTo(503);
      assertThat(r.text()).isEqualTo("down");
      assertThat(r.header("x-trellis-response-flags")).as("the upstream's own answer, not ours").isNull();
    }
  }

  @Test
  void retriesGoToAnotherHostThanTheOneThatFailed() throws Exception {
    InetSocketAddress bad = fx.backend("127.0.73.10", ex -> respond(ex, 503, "bad"));
    InetSocketAddress good = fx.backend("127.0.73.11", ex -> respond(ex, 200, "good"));
    fx.http(List.of(rule("all", "/", action("web", null, retry("5xx", 1, null)))),
        Map.of(cluster("web"), List.of(mesh(bad), mesh(good))));
    try (RawHttp c = fx.client()) {
      for (int i = 0; i < 20; i++) {
        assertThat(c.get("/").text()).isEqualTo("good");
      }
    }
  }

  @Test
  void aRequestBodyIsReplayedByteExactOnRetry() throws Exception {
    List<String> seen = new ArrayList<>();
    InetSocketAddress web = fx.backend("127.0.73.10", ex -> {
      byte[] body = ProxyFixture.readAll(ex);
      synchronized (seen) {
        try {
          seen.add(sha256(body));
        } catch (Exception e) {
          throw new IOException(e);
        }
        respond(ex, seen.size() == 1 ? 502 : 200, "got " + body.length);
      }
    });
    fx.http(List.of(rule("all", "/", action("web", null, retry("gateway-error", 2, null)))),
        Map.of(cluster("web"), List.of(mesh(web))));
    byte[] payload = new byte[200 * 1024];
    new Random(3).nextBytes(payload);
    try (RawHttp c = fx.client()) {
      c.send("POST /upload HTTP/1.1\r\nHost: web\r\nContent-Length: " + payload.length + "\r\n\r\n").send(payload);
      RawHttp.Response r = c.read();
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.text()).isEqualTo("got " + payload.length);
    }
    assertThat(seen).containsExactly(sha256(payload), sha256(payload));
  }

  @Test
  void aBodyLargerThanTheRetryBufferStreamsButIsNotRetried() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    List<String> seen = new ArrayList<>();
    InetSocketAddress web = fx.backend("127.0.73.10", ex -> {
      byte[] body = ProxyFixture.readAll(ex);
      try {
        seen.add(sha256(body));
      } catch (Exception e) {
        throw new IOException(e);
      }
      respond(ex, calls.incrementAndGet() == 1 ? 503 : 200, "n" + calls.get());
    });
    fx.http(List.of(rule("all", "/", action("web", null, retry("5xx", 2, null)))),
        Map.of(cluster("web"), List.of(mesh(web))));
    byte[] payload = new byte[ReplayBuffer.LIMIT_BYTES * 3];
    new Random(4).nextBytes(payload);
    try (RawHttp c = fx.client()) {
      c.send("POST /big HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n");
      for (int off = 0; off < payload.length; off += 64 * 1024) {
        c.send(Integer.toHexString(64 * 1024) + "\r\n").send(java.util.Arrays.copyOfRange(payload, off, off + 64 * 1024))
            .send("\r\n");
      }
      c.send("0\r\n\r\n");
      RawHttp.Response r = c.read();
      assertThat(r.status()).as("the body could not be replayed, so the 503 stands").isEqualTo(503);
    }
    assertThat(seen).containsExactly(sha256(payload));
  }

  @Test
  void theCircuitBreakerOverflowsFastAndRecovers() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger inFlight = new AtomicInteger();
    InetSocketAddress web = fx.backend("127.0.73.10", ex -> {
      inFlight.incrementAndGet();
      try {
        release.await(20, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      respond(ex, 200, "slow");
    });
    fx.http(List.of(rule("all", "/", action("web", null, null))),
        Map.of(clusterWith("web", new ClusterSpec.Breaker(1024, 1024, 2, 3, -1, 3), null), List.of(mesh(web))));
    List<CompletableFuture<Integer>> held = new ArrayList<>();
    List<RawHttp> clients = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      RawHttp c = fx.client();
      clients.add(c);
      c.send("GET / HTTP/1.1\r\nHost: web\r\n\r\n");
      held.add(CompletableFuture.supplyAsync(() -> {
        try {
          return c.read().status();
        } catch (IOException e) {
          throw new RuntimeException(e);
        }
      }));
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> inFlight.get() == 2);
    try (RawHttp c = fx.client()) {
      RawHttp.Response r = c.get("/");
      assertThat(r.status()).isEqualTo(503);
      assertThat(r.header("x-trellis-overloaded")).isEqualTo("true");
      assertThat(r.header("x-trellis-response-flags")).isEqualTo("UO");
      release.countDown();
      for (CompletableFuture<Integer> f : held) {
        assertThat(f.get(10, TimeUnit.SECONDS)).isEqualTo(200);
      }
      assertThat(c.get("/").status()).as("recovered once requests finished").isEqualTo(200);
    } finally {
      for (RawHttp c : clients) {
        c.close();
      }
    }
    assertThat(runtime("web").breaker().overflows(dev.trellis.proxy.resilience.CircuitBreaker.Resource.REQUESTS)).isEqualTo(1);
  }

  @Test
  void aRequestWaitsForAConnectionUnderMaxConnectionsAndOverflowsPastMaxPending() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger arrived = new AtomicInteger();
    InetSocketAddress web = fx.backend("127.0.73.10", ex -> {
      if (arrived.incrementAndGet() == 1) {
        try {
          release.await(20, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      respond(ex, 200, "ok");
    });
    // One connection, one pending request: a second request waits for the first; a third overflows.
    fx.http(List.of(rule("all", "/", action("web", null, null))),
        Map.of(clusterWith("web", new ClusterSpec.Breaker(1, 1, 1024, 3, -1, 3), null), List.of(mesh(web))));
    try (RawHttp first = fx.client(); RawHttp second = fx.client(); RawHttp third = fx.client()) {
      first.send("GET / HTTP/1.1\r\nHost: web\r\n\r\n");
      await().atMost(Duration.ofSeconds(10)).until(() -> arrived.get() == 1);
      second.send("GET / HTTP/1.1\r\nHost: web\r\n\r\n");
      await().atMost(Duration.ofSeconds(10)).until(() ->
          runtime("web").breaker().used(dev.trellis.proxy.resilience.CircuitBreaker.Resource.PENDING_REQUESTS) == 1);
      RawHttp.Response overflow = third.get("/");
      assertThat(overflow.status()).isEqualTo(503);
      assertThat(overflow.header("x-trellis-response-flags")).isEqualTo("UO");
      release.countDown();
      assertThat(first.read().status()).isEqualTo(200);
      assertThat(second.read().status()).as("served on the freed connection").isEqualTo(200);
    }
  }

  @Test
  void aFailingEndpointIsEjectedAndReturnsAfterTheEjectionTime() throws Exception {
    Map<String, AtomicInteger> hits = new ConcurrentHashMap<>();
    InetSocketAddress bad = fx.backend("127.0.73.10", ex -> {
      hits.computeIfAbsent("bad", k -> new AtomicInteger()).incrementAndGet();
      respond(ex, 500, "bad");
    });
    InetSocketAddress good = fx.backend("127.0.73.11", ex -> {
      hits.computeIfAbsent("good", k -> new AtomicInteger()).incrementAndGet();
      respond(ex, 200, "good");
    });
    ClusterSpec.Outlier outlier = new ClusterSpec.Outlier(2, Duration.ofSeconds(10), Duration.ofSeconds(30), 50);
    fx.http(List.of(rule("all", "/", action("web", null, null))),
        Map.of(clusterWith("web", ClusterSpec.Breaker.DEFAULTS, outlier), List.of(mesh(bad), mesh(good))));
    try (RawHttp c = fx.client()) {
      for (int i = 0; i < 4; i++) {
        c.get("/"); // round robin: bad, good, bad (ejected now), good
      }
      assertThat(hits.get("bad").get()).isEqualTo(2);
      assertThat(runtime("web").stats().ejections.get()).isEqualTo(1);
      for (int i = 0; i < 10; i++) {
        assertThat(c.get("/").text()).isEqualTo("good");
      }
      fx.advance(Duration.ofSeconds(31));
      int before = hits.get("bad").get();
      for (int i = 0; i < 4; i++) {
        c.get("/");
      }
      assertThat(hits.get("bad").get()).as("back in rotation after base_ejection_time").isGreaterThan(before);
    }
  }

  @Test
  void theRouteTimeoutAnswers504() throws Exception {
    CountDownLatch never = new CountDownLatch(1);
    InetSocketAddress web = fx.backend("127.0.73.10", ex -> {
      try {
        never.await(20, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      respond(ex, 200, "late");
    });
    fx.http(List.of(rule("all", "/", action("web", Duration.ofMillis(300), null))),
        Map.of(cluster("web"), List.of(mesh(web))));
    try (RawHttp c = fx.client()) {
      RawHttp.Response r = c.get("/");
      assertThat(r.status()).isEqualTo(504);
      assertThat(r.header("x-trellis-response-flags")).isEqualTo("UT");
    } finally {
      never.countDown();
    }
  }

  @Test
  void aPerTryTimeoutMovesTheRequestToAnotherHost() throws Exception {
    // 1 s per try: long enough for a first mTLS connection on a loaded machine (200 ms failed at load 10), far
    // shorter than the 20 s the slow host holds every request.
    CountDownLatch never = new CountDownLatch(1);
    InetSocketAddress slow = fx.backend("127.0.73.10", ex -> {
      try {
        never.await(20, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      respond(ex, 200, "slow");
    });
    InetSocketAddress fast = fx.backend("127.0.73.11", ex -> respond(ex, 200, "fast"));
    fx.http(List.of(rule("all", "/", action("web", Duration.ofSeconds(10), retry("5xx", 1, Duration.ofSeconds(1))))),
        Map.of(cluster("web"), List.of(mesh(slow), mesh(fast))));
    try (RawHttp c = fx.client()) {
      for (int i = 0; i < 4; i++) {
        assertThat(c.get("/").text()).isEqualTo("fast");
      }
    } finally {
      never.countDown();
    }
    assertThat(runtime("web").stats().timeouts.get()).isGreaterThanOrEqualTo(1);
  }

  @Test
  void aConnectFailureIsRetriedOnAnotherEndpointOrAnswered503() throws Exception {
    int closedPort;
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.73.12"))) {
      closedPort = s.getLocalPort();
    }
    EndpointSpec dead = new EndpointSpec("127.0.73.12", closedPort, null, null, null, false, "d/dead", null, 1);
    InetSocketAddress good = fx.backend("127.0.73.11", ex -> respond(ex, 200, "good"));
    fx.http(List.of(rule("retry", "/retry", action("web", null, retry("connect-failure", 1, null))),
            rule("all", "/", action("dead", null, null))),
        Map.of(cluster("web"), List.of(dead, ProxyFixture.direct(good)), cluster("dead"), List.of(dead)));
    try (RawHttp c = fx.client()) {
      for (int i = 0; i < 4; i++) {
        assertThat(c.get("/retry").text()).isEqualTo("good");
      }
      RawHttp.Response r = c.get("/");
      assertThat(r.status()).isEqualTo(503);
      assertThat(r.header("x-trellis-response-flags")).isEqualTo("UF");
      assertThat(r.text()).contains("connection failure");
    }
  }

  @Test
  void theRetryBudgetCapsRetries() throws Exception {
    InetSocketAddress web = fx.backend("127.0.73.10", ex -> respond(ex, 503, "down"));
    fx.http(List.of(rule("all", "/", action("web", null, retry("5xx", 3, null)))),
        Map.of(clusterWith("web", new ClusterSpec.Breaker(1024, 1024, 1024, 0, -1, 3), null), List.of(mesh(web))));
    try (RawHttp c = fx.client()) {
      assertThat(c.get("/").status()).isEqualTo(503);
    }
    assertThat(runtime("web").stats().retries.get()).isZero();
    assertThat(runtime("web").stats().retriesOverflowed.get()).isEqualTo(1);
  }

  @Test
  void noEndpointsIs503NoHealthyUpstream() throws Exception {
    fx.http(List.of(rule("all", "/", action("web", null, null))), Map.of(cluster("web"), List.of()));
    try (RawHttp c = fx.client()) {
      RawHttp.Response r = c.get("/");
      assertThat(r.status()).isEqualTo(503);
      assertThat(r.header("x-trellis-response-flags")).isEqualTo("UH");
      assertThat(r.text()).contains("no healthy upstream");
    }
  }
}
