package dev.trellis.proxy.inbound;

import static dev.trellis.proxy.testing.ProxyFixture.cluster;
import static dev.trellis.proxy.testing.ProxyFixture.mesh;
import static dev.trellis.proxy.testing.ProxyFixture.respond;
import static dev.trellis.proxy.testing.ProxyFixture.rule;
import static dev.trellis.proxy.testing.ProxyFixture.to;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.proxy.state.AuthorizationSpec.Action;
import dev.trellis.proxy.state.AuthorizationSpec.Rule;
import dev.trellis.proxy.state.AuthorizationSpec;
import dev.trellis.proxy.state.LocalWorkload.MtlsMode;
import dev.trellis.proxy.testing.H2Caller;
import dev.trellis.proxy.testing.ProxyFixture;
import dev.trellis.proxy.testing.RawHttp;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The destination side: authorization by identity, namespace and port at the HBONE server, by method
 * and path per request when a policy names them, and the mTLS mode for plaintext arriving on the
 * inbound port. The client workload is spiffe://cluster.local/ns/d/sa/client.
 */
class InboundPolicyTest {

  private final ProxyFixture fx = new ProxyFixture();
  private final Queue<String> seen = new ConcurrentLinkedQueue<>();
  private InetSocketAddress web;

  @BeforeEach
  void start() throws Exception {
    web = fx.backend("127.0.73.10", ex -> {
      seen.add(ex.getRequestMethod() + " " + ex.getRequestURI());
      respond(ex, 200, "ok " + ex.getRequestURI());
    });
  }

  @AfterEach
  void close() {
    fx.close();
  }

  private void policies(MtlsMode mode, AuthorizationSpec... policies) {
    fx.policies("127.0.73.10", mode, List.of(policies), Map.of(web.getPort(), "http"));
    fx.http(List.of(rule("all", "/", to("web"))), Map.of(cluster("web"), List.of(mesh(web))));
  }

  private static Rule from(String namespace) {
    return new Rule(Set.of(), Set.of(namespace), Set.of(), Set.of(), List.of());
  }

  @Test
  void aCallerNoPolicyAdmitsIsRefusedAtTheTunnel() throws Exception {
    policies(MtlsMode.STRICT, new AuthorizationSpec("d/ops-only", Action.ALLOW, List.of(from("ops"))));
    try (RawHttp c = fx.client()) {
      RawHttp.Response r = c.get("/");
      assertThat(r.status()).isEqualTo(403);
      assertThat(r.text()).contains("the destination denied this workload").contains("401");
    }
    assertThat(seen).isEmpty();
    assertThat(fx.inbound.recent().getLast().status()).isEqualTo(401);
    assertThat(fx.inbound.recent().getLast().reason())
        .contains("no ALLOW policy admits spiffe://cluster.local/ns/d/sa/client");
    assertThat(fx.refusals.count(dev.trellis.proxy.refusal.Refusal.Listener.HBONE,
        dev.trellis.proxy.refusal.Refusal.DENIED)).isEqualTo(1);
  }

  @Test
  void anAdmittedCallerGetsThrough() throws Exception {
    policies(MtlsMode.STRICT, new AuthorizationSpec("d/same-ns", Action.ALLOW, List.of(from("d"))));
    try (RawHttp c = fx.client()) {
      assertThat(c.get("/x").text()).isEqualTo("ok /x");
    }
  }

  @Test
  void methodAndPathRulesAreCheckedPerRequestOnTheNormalizedPath() throws Exception {
    policies(MtlsMode.STRICT, new AuthorizationSpec("d/public-reads", Action.ALLOW,
        List.of(new Rule(Set.of(), Set.of("d"), Set.of(), Set.of("GET"), List.of("/public/*")))));
    try (RawHttp c = fx.client()) {
      assertThat(c.get("/public/a").status()).isEqualTo(200);
      c.send("POST /public/a HTTP/1.1\r\nHost: web\r\nContent-Length: 2\r\n\r\nhi");
      RawHttp.Response post = c.read();
      assertThat(post.status()).isEqualTo(403);
      assertThat(post.header("x-trellis-response-flags")).isEqualTo("RBAC");
      assertThat(c.get("/public/../admin").status()).as("dot segments cannot climb out of /public").isEqualTo(403);
      assertThat(c.get("/public/x/../b").status()).isEqualTo(200);
      assertThat(c.get("/public%2F..%2Fadmin").status()).isEqualTo(400);
    }
    assertThat(seen).containsExactly("GET /public/a", "GET /public/b");
  }

  @Test
  void anHttp2CallerDeniedBeforeItsRequestEndedGetsTheWholeRefusal() throws Exception {
    policies(MtlsMode.STRICT, new AuthorizationSpec("d/public-reads", Action.ALLOW,
        List.of(new Rule(Set.of(), Set.of("d"), Set.of(), Set.of("GET"), List.of("/public/*")))));
    try (H2Caller c = fx.h2Client()) {
      for (int i = 0; i < 3; i++) {
        // The source sends HEADERS then an empty DATA with END_STREAM: the destination answers after the headers,
        // and resets the rest only once its 403 (headers and body) has left.
        H2Caller.Response denied = c.send("GET", "/private");
        assertThat(denied.status()).isEqualTo(403);
        assertThat(denied.header("x-trellis-response-flags")).isEqualTo("RBAC");
        assertThat(denied.body()).startsWith("RBAC: access denied");
      }
    }
    assertThat(seen).isEmpty();
  }

  @Test
  void strictWorkloadsRefusePlaintextOnTheInboundPort() throws Exception {
    policies(MtlsMode.STRICT);
    assertThatThrownBy(() -> fx.plaintextClient("127.0.73.10", web.getPort()))
        .hasMessageContaining("SOCKS CONNECT refused with status 2");
    assertThat(fx.inbound.recent().getLast().reason()).contains("accepts only mTLS (mode STRICT)");
    assertThat(fx.refusals.count(dev.trellis.proxy.refusal.Refusal.Listener.INBOUND,
        dev.trellis.proxy.refusal.Refusal.STRICT_MTLS)).isEqualTo(1);
    assertThat(seen).isEmpty();
  }

  @Test
  void permissiveWorkloadsAcceptPlaintextAsACallerWithoutIdentity() throws Exception {
    policies(MtlsMode.PERMISSIVE);
    try (RawHttp c = fx.plaintextClient("127.0.73.10", web.getPort())) {
      assertThat(c.get("/plain").text()).isEqualTo("ok /plain");
    }
  }

  @Test
  void policiesNamingCallersShutOutPlaintextButIdentityFreeRulesApply() throws Exception {
    policies(MtlsMode.PERMISSIVE,
        new AuthorizationSpec("d/same-ns", Action.ALLOW, List.of(from("d"),
            new Rule(Set.of(), Set.of(), Set.of(), Set.of("GET"), List.of("/health")))));
    try (RawHttp c = fx.plaintextClient("127.0.73.10", web.getPort())) {
      assertThat(c.get("/health").status()).isEqualTo(200);
      assertThat(c.get("/data").status()).isEqualTo(403);
    }
    assertThat(seen).containsExactly("GET /health");
  }
}
