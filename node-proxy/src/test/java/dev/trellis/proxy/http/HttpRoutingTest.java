package dev.trellis.proxy.http;

import static dev.trellis.proxy.testing.ProxyFixture.cluster;
import static dev.trellis.proxy.testing.ProxyFixture.direct;
import static dev.trellis.proxy.testing.ProxyFixture.mesh;
import static dev.trellis.proxy.testing.ProxyFixture.respond;
import static dev.trellis.proxy.testing.ProxyFixture.rule;
import static dev.trellis.proxy.testing.ProxyFixture.to;
import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.proxy.route.RouteTable;
import dev.trellis.proxy.testing.ProxyFixture;
import dev.trellis.proxy.testing.RawHttp;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** HTTP through the outbound proxy on loopback: routing, splitting, keep-alive, HBONE and plaintext upstreams. */
class HttpRoutingTest {

  private final ProxyFixture fx = new ProxyFixture();

  @AfterEach
  void close() {
    fx.close();
  }

  @Test
  void aRequestReachesTheMeshBackendOverHboneAndTheBackendSeesTheCallersIdentity() throws Exception {
    Set<Integer> upstreamPorts = ConcurrentHashMap.newKeySet();
    InetSocketAddress web = fx.backend("127.0.73.10", ex -> {
      upstreamPorts.add(ex.getRemoteAddress().getPort());
      respond(ex, 200, "hello " + ex.getRequestURI() + " host=" + ex.getRequestHeaders().getFirst("Host"));
    });
    fx.http(List.of(rule("all", "/", to("web"))), Map.of(cluster("web"), List.of(mesh(web))));
    try (RawHttp c = fx.client()) {
      RawHttp.Response r = c.get("/a?x=1");
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.text()).isEqualTo("hello /a?x=1 host=web.d.svc.cluster.local");
      assertThat(c.get("/b").text()).startsWith("hello /b");
    }
    assertThat(upstreamPorts).as("keep-alive: both requests on one upstream connection").hasSize(1);
    assertThat(fx.inbound.recent().getLast().peer()).isEqualTo(ProxyFixture.CLIENT);
  }

  @Test
  void anEndpointOutsideTheMeshIsReachedInPlaintext() throws Exception {
    InetSocketAddress ext = fx.backend("127.0.73.20", ex -> respond(ex, 200, "plain"));
    fx.http(List.of(rule("all", "/", to("ext"))), Map.of(cluster("ext"), List.of(direct(ext))));
    try (RawHttp c = fx.client()) {
      assertThat(c.get("/").text()).isEqualTo("plain");
    }
    assertThat(fx.inbound.recent()).as("no HBONE involved").isEmpty();
  }

  @Test
  void requestsAreSplitByWeightPerRequest() throws Exception {
    InetSocketAddress v1 = fx.backend("127.0.73.10", ex -> respond(ex, 200, "v1"));
    InetSocketAddress v2 = fx.backend("127.0.73.11", ex -> respond(ex, 200, "v2"));
    RouteTable.Action split = new RouteTable.Action(List.of(new RouteTable.WeightedCluster("v1", 80),
        new RouteTable.WeightedCluster("v2", 20)), null, null, null, false);
    fx.http(List.of(rule("all", "/", split)), Map.of(cluster("v1"), List.of(mesh(v1)), cluster("v2"), List.of(mesh(v2))));
    int n = 1000;
    int ones = 0;
    try (RawHttp c = fx.client()) {
      for (int i = 0; i < n; i++) {
        if (c.get("/").text().equals("v1")) {
          ones++;
        }
      }
    }
    // Binomial(1000, 0.8): sd ~ 12.6; 5 sd either side.
    assertThat(ones).isBetween(737, 863);
  }

  @Test
  void rulesMatchInOrderByPathAndHeaderAndNoMatchIs404() throws Exception {
    InetSocketAddress api = fx.backend("127.0.73.10", ex -> respond(ex, 200, "api"));
    InetSocketAddress canary = fx.backend("127.0.73.11", ex -> respond(ex, 200, "canary"));
    RouteTable.Rule canaryRule = new RouteTable.Rule("canary", new RouteTable.Match(null, "/api",
        null, List.of(new RouteTable.HeaderMatch("x-canary", "yes", null))), to("canary"));
    fx.http(List.of(canaryRule, rule("api", "/api", to("api"))),
        Map.of(cluster("api"), List.of(mesh(api)), cluster("canary"), List.of(mesh(canary))));
    try (RawHttp c = fx.client()) {
      assertThat(c.get("/api/x").text()).isEqualTo("api");
      c.send("GET /api/x HTTP/1.1\r\nHost: web\r\nX-Canary: yes\r\n\r\n");
      assertThat(c.read().text()).isEqualTo("canary");
      RawHttp.Response nr = c.get("/other");
      assertThat(nr.status()).isEqualTo(404);
      assertThat(nr.header("x-trellis-response-flags")).isEqualTo("NR");
      assertThat(c.get("/api/y").text()).as("a local 404 keeps the connection").isEqualTo("api");
    }
  }

  @Test
  void hopByHopHeadersStopAtTheProxyAndClientsCannotForgeOurMarkers() throws Exception {
    Map<String, String> seen = new ConcurrentHashMap<>();
    InetSocketAddress web = fx.backend("127.0.73.10", ex -> {
      ex.getRequestHeaders().forEach((k, v) -> seen.put(k.toLowerCase(), String.join(",", v)));
      respond(ex, 200, "ok");
    });
    fx.http(List.of(rule("all", "/", to("web"))), Map.of(cluster("web"), List.of(mesh(web))));
    try (RawHttp c = fx.client()) {
      c.send("GET / HTTP/1.1\r\nHost: web\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: 5\r\n"
          + "X-Trellis-Overloaded: true\r\nX-Kept: yes\r\n\r\n");
      assertThat(c.read().status()).isEqualTo(200);
    }
    assertThat(seen).containsEntry("x-kept", "yes").doesNotContainKeys("x-secret", "keep-alive", "x-trellis-overloaded");
  }

  @Test
  void connectionCloseFromTheClientIsHonoured() throws Exception {
    InetSocketAddress web = fx.backend("127.0.73.10", ex -> respond(ex, 200, "bye"));
    fx.http(List.of(rule("all", "/", to("web"))), Map.of(cluster("web"), List.of(mesh(web))));
    try (RawHttp c = fx.client()) {
      c.send("GET / HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n");
      RawHttp.Response r = c.read();
      assertThat(r.text()).isEqualTo("bye");
      assertThat(r.header("connection")).isEqualTo("close");
      assertThat(c.closed()).isTrue();
    }
  }
}
