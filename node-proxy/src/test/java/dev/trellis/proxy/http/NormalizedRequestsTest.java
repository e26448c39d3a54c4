package dev.trellis.proxy.http;

import static dev.trellis.proxy.testing.ProxyFixture.cluster;
import static dev.trellis.proxy.testing.ProxyFixture.mesh;
import static dev.trellis.proxy.testing.ProxyFixture.rule;
import static dev.trellis.proxy.testing.ProxyFixture.to;
import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.proxy.state.AuthorizationSpec.Action;
import dev.trellis.proxy.state.AuthorizationSpec.Rule;
import dev.trellis.proxy.state.AuthorizationSpec;
import dev.trellis.proxy.state.LocalWorkload.MtlsMode;
import dev.trellis.proxy.testing.H2Caller;
import dev.trellis.proxy.testing.ProxyFixture;
import dev.trellis.proxy.testing.RawHttp;
import dev.trellis.proxy.testing.RecordingBackend;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 16, item 1 through real sockets: the reproduction's DENY rules ({@code /admin}, {@code /admin/*}, method
 * DELETE) hold against {@code GET /%61dmin}, {@code /admin;x} and {@code delete}, from HTTP/1.1 and HTTP/2 callers on
 * several connections at once (the fixture's two event loops), through the source proxy and straight at the
 * destination (a plaintext caller); and the workload receives exactly the normalized request that was checked.
 */
class NormalizedRequestsTest {

  static final List<AuthorizationSpec> DENY = List.of(
      new AuthorizationSpec("d/no-admin", Action.DENY,
          List.of(new Rule(Set.of(), Set.of(), Set.of(), Set.of(), List.of("/admin", "/admin/*")))),
      new AuthorizationSpec("d/no-delete", Action.DENY,
          List.of(new Rule(Set.of(), Set.of(), Set.of(), Set.of("DELETE"), List.of()))));
  static final String WEB = "127.0.73.20";
  static final String V2 = "127.0.73.21";

  private final ProxyFixture fx = new ProxyFixture();
  private final ExecutorService callers = Executors.newFixedThreadPool(4);
  private RecordingBackend web;
  private RecordingBackend v2;

  @BeforeEach
  void start() {
    web = fx.recordingBackend(WEB);
    v2 = fx.recordingBackend(V2);
    fx.policies(WEB, MtlsMode.PERMISSIVE, DENY, Map.of(web.address().getPort(), "http"));
    fx.policies(V2, MtlsMode.PERMISSIVE, DENY, Map.of(v2.address().getPort(), "http"));
    fx.http(List.of(rule("v2", "/v2/", to("v2")), rule("all", "/", to("web"))),
        Map.of(cluster("web"), List.of(mesh(web.address())), cluster("v2"), List.of(mesh(v2.address()))));
  }

  @AfterEach
  void close() {
    callers.shutdownNow();
    fx.close();
  }

  /** The three bypasses of the issue on one HTTP/1.1 connection: status and response flag of each. */
  private static List<String> bypassesOverHttp1(RawHttp c) throws Exception {
    List<String> out = new ArrayList<>();
    for (String request : List.of("GET /%61dmin HTTP/1.1", "GET /admin;x HTTP/1.1", "delete /public HTTP/1.1",
        "GET /public/%61 HTTP/1.1")) {
      c.send(request + "\r\nHost: web.d.svc.cluster.local\r\n\r\n");
      RawHttp.Response r = c.read();
      out.add(r.status() + " " + r.header("x-trellis-response-flags"));
    }
    return out;
  }

  private static List<String> bypassesOverHttp2(H2Caller c) throws Exception {
    List<String> out = new ArrayList<>();
    for (String[] request : new String[][] {{"GET", "/%61dmin"}, {"GET", "/admin;x"}, {"delete", "/public"},
        {"GET", "/public/%61"}}) {
      H2Caller.Response r = c.send(request[0], request[1]);
      out.add(r.status() + " " + r.header("x-trellis-response-flags"));
    }
    return out;
  }

  private <T> List<T> onFourConnections(Callable<T> call) throws Exception {
    List<Future<T>> running = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      running.add(callers.submit(call));
    }
    List<T> out = new ArrayList<>();
    for (Future<T> f : running) {
      out.add(f.get());
    }
    return out;
  }

  /** At the source, /admin;x is refused before it leaves (400); the others are denied at the destination (403). */
  private static final List<String> THROUGH_THE_MESH = List.of("403 RBAC", "400 DPE", "403 RBAC", "200 null");

  @Test
  void theIssuesBypassesAreRefusedForHttp1Callers() throws Exception {
    List<List<String>> results = onFourConnections(() -> {
      try (RawHttp c = fx.client()) {
        return bypassesOverHttp1(c);
      }
    });
    assertThat(results).containsOnly(THROUGH_THE_MESH).hasSize(4);
    assertThat(web.seen).extracting(s -> s.method() + " " + s.target()).containsOnly("GET /public/a").hasSize(4);
  }

  @Test
  void theIssuesBypassesAreRefusedForHttp2Callers() throws Exception {
    List<List<String>> results = onFourConnections(() -> {
      try (H2Caller c = fx.h2Client()) {
        return bypassesOverHttp2(c);
      }
    });
    assertThat(results).containsOnly(THROUGH_THE_MESH).hasSize(4);
    assertThat(web.seen).extracting(s -> s.protocol() + " " + s.method() + " " + s.target())
        .as("the port is declared http: the workload is spoken to in HTTP/1.1").containsOnly("1.1 GET /public/a")
        .hasSize(4);
  }

  @Test
  void theDestinationAloneRefusesThemFromCallersNoSourceProxyNormalized() throws Exception {
    int port = web.address().getPort();
    List<List<String>> h1 = onFourConnections(() -> {
      try (RawHttp c = fx.plaintextClient(WEB, port)) {
        return bypassesOverHttp1(c);
      }
    });
    List<List<String>> h2 = onFourConnections(() -> {
      try (H2Caller c = fx.h2PlaintextClient(WEB, port)) {
        return bypassesOverHttp2(c);
      }
    });
    List<String> atTheDestination = List.of("403 RBAC", "400 DPE", "403 RBAC", "200 null");
    assertThat(h1).containsOnly(atTheDestination).hasSize(4);
    assertThat(h2).containsOnly(atTheDestination).hasSize(4);
    assertThat(web.seen).extracting(s -> s.method() + " " + s.target()).containsOnly("GET /public/a").hasSize(8);
  }

  @Test
  void theWorkloadReceivesExactlyTheNormalizedRequestThatWasChecked() throws Exception {
    try (RawHttp c = fx.client()) {
      c.send("get /public/./x/..//%7Euser/%c3%a9|?q=/../%2F&r=%zz HTTP/1.1\r\nHost: web.d.svc.cluster.local\r\n\r\n");
      assertThat(c.read().status()).isEqualTo(200);
    }
    try (H2Caller c = fx.h2Client()) {
      assertThat(c.send("post", "/public/%2e/%61").status()).isEqualTo(200);
    }
    try (RawHttp c = fx.plaintextClient(WEB, web.address().getPort())) {
      c.send("GET //public/%2E%2E/public/b HTTP/1.1\r\nHost: web\r\n\r\n");
      assertThat(c.read().status()).isEqualTo(200);
    }
    assertThat(web.seen).extracting(s -> s.protocol() + " " + s.method() + " " + s.target()).containsExactly(
        "1.1 GET /public/~user/%C3%A9%7C?q=/../%2F&r=%zz", "1.1 POST /public/a", "1.1 GET /public/b");
  }

  @Test
  void theSourceRoutesOnTheNormalizedPath() throws Exception {
    try (RawHttp c = fx.client()) {
      for (String path : List.of("/x/../v2/a", "//v2/b", "/%76%32/c", "/v2/./d")) {
        c.send("GET " + path + " HTTP/1.1\r\nHost: web.d.svc.cluster.local\r\n\r\n");
        assertThat(c.read().status()).as(path).isEqualTo(200);
      }
    }
    assertThat(v2.seen).extracting(RecordingBackend.Seen::target).containsExactly("/v2/a", "/v2/b", "/v2/c", "/v2/d");
    assertThat(web.seen).isEmpty();
  }
}
