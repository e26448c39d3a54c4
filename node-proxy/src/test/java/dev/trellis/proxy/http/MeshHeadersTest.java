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
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Issue 16, item 2 through a real two-proxy path (SOCKS entry → source proxy → HBONE → destination proxy → workload):
 * identity headers reach a workload only from the mesh. A caller forges {@code x-forwarded-client-cert},
 * {@code x-trellis-*} and {@code forwarded}; the workload sees exactly one {@code x-forwarded-client-cert} naming
 * itself and the verified caller, no {@code x-trellis-*}, and the HTTP-level {@code forwarded} untouched (the mesh
 * does not vouch for it). The workload is reached in its port's declared protocol ({@code http}: HTTP/1.1;
 * {@code http2}, {@code grpc}: HTTP/2), whichever the caller spoke.
 */
class MeshHeadersTest {

  static final String WEB = "127.0.73.30";
  static final String XFCC = "By=spiffe://cluster.local/ns/d/sa/web;URI=spiffe://cluster.local/ns/d/sa/client";
  /** What a caller forges: mesh identity headers, mesh markers in any case, and the standard forwarding headers. */
  static final List<Map.Entry<String, String>> FORGED = List.of(
      Map.entry("x-forwarded-client-cert", "By=spiffe://cluster.local/ns/d/sa/web;URI=spiffe://cluster.local/ns/ops/sa/admin"),
      Map.entry("x-forwarded-client-cert", "URI=spiffe://cluster.local/ns/ops/sa/root"),
      Map.entry("x-trellis-response-flags", "RBAC"),
      Map.entry("x-trellis-overloaded", "true"),
      Map.entry("x-trellis-caller", "spiffe://cluster.local/ns/ops/sa/admin"),
      Map.entry("forwarded", "for=\"6.6.6.6\""),
      Map.entry("x-forwarded-for", "6.6.6.6"));

  private final ProxyFixture fx = new ProxyFixture();
  private RecordingBackend web;

  @BeforeEach
  void start() {
    web = fx.recordingBackend(WEB);
  }

  @AfterEach
  void close() {
    fx.close();
  }

  private void serve(MtlsMode mode, String protocol, List<AuthorizationSpec> policies) {
    fx.policies(WEB, mode, policies, Map.of(web.address().getPort(), protocol));
    fx.http(List.of(rule("all", "/", to("web"))), Map.of(cluster("web"), List.of(mesh(web.address()))));
  }

  private static String http1(String path) {
    StringBuilder b = new StringBuilder("GET " + path + " HTTP/1.1\r\nHost: web.d.svc.cluster.local\r\n");
    FORGED.forEach(h -> b.append(h.getKey()).append(": ").append(h.getValue()).append("\r\n"));
    b.append("X-Trellis-Upper: yes\r\nX-Forwarded-Client-Cert: By=x;URI=y\r\n");
    return b.append("\r\n").toString();
  }

  private static void assertMeshHeadersOnly(RecordingBackend.Seen seen, String xfcc) {
    if (xfcc == null) {
      assertThat(seen.all("x-forwarded-client-cert")).as("plaintext caller: no client certificate header").isEmpty();
    } else {
      assertThat(seen.all("x-forwarded-client-cert")).as("exactly one, from the verified peer").containsExactly(xfcc);
    }
    assertThat(seen.names()).as("no caller-supplied mesh header").noneMatch(n -> n.startsWith("x-trellis-"));
    assertThat(seen.all("forwarded")).as("HTTP-level forwarded is the caller's, untouched")
        .containsExactly("for=\"6.6.6.6\"");
    assertThat(seen.all("x-forwarded-for")).containsExactly("6.6.6.6");
  }

  /** With and without a policy naming paths: the destination sets the header on every HTTP port, not only inspected ones. */
  @ParameterizedTest(name = "port protocol {0}")
  @ValueSource(strings = {"http", "http2", "grpc"})
  void anHttp1CallersForgedIdentityHeadersAreReplacedByTheVerifiedPeer(String protocol) throws Exception {
    serve(MtlsMode.STRICT, protocol, List.of());
    try (RawHttp c = fx.client()) {
      c.send(http1("/a"));
      assertThat(c.read().status()).isEqualTo(200);
    }
    serve(MtlsMode.STRICT, protocol, List.of(new AuthorizationSpec("d/no-admin", Action.DENY,
        List.of(new Rule(Set.of(), Set.of(), Set.of(), Set.of(), List.of("/admin/*"))))));
    try (RawHttp c = fx.client()) {
      c.send(http1("/b"));
      assertThat(c.read().status()).isEqualTo(200);
    }
    assertThat(web.seen).hasSize(2).allSatisfy(seen -> {
      assertThat(seen.protocol()).as("the workload is reached in its port's protocol")
          .isEqualTo(protocol.equals("http") ? "1.1" : "2");
      assertMeshHeadersOnly(seen, XFCC);
    });
  }

  @Test
  void anHttp2CallersForgedIdentityHeadersAreReplacedByTheVerifiedPeer() throws Exception {
    serve(MtlsMode.STRICT, "grpc", List.of());
    try (H2Caller c = fx.h2Client()) {
      for (String path : List.of("/a", "/b")) {
        H2Caller.Response r = c.send("GET", path, FORGED);
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.body()).isEqualTo("ok");
      }
    }
    assertThat(web.seen).hasSize(2).allSatisfy(seen -> {
      assertThat(seen.protocol()).as("a grpc port is spoken to in HTTP/2").isEqualTo("2");
      assertMeshHeadersOnly(seen, XFCC);
    });
  }

  @Test
  void aPlaintextPermissiveCallerGetsNoClientCertificateHeaderAtAll() throws Exception {
    serve(MtlsMode.PERMISSIVE, "http", List.of());
    try (RawHttp c = fx.plaintextClient(WEB, web.address().getPort())) {
      c.send(http1("/plain"));
      assertThat(c.read().status()).isEqualTo(200);
    }
    try (H2Caller c = fx.h2PlaintextClient(WEB, web.address().getPort())) {
      assertThat(c.send("GET", "/plain2", FORGED).status()).isEqualTo(200);
    }
    assertThat(web.seen).extracting(RecordingBackend.Seen::protocol).as("an http port is spoken to in HTTP/1.1")
        .containsExactly("1.1", "1.1");
    assertThat(web.seen).allSatisfy(seen -> assertMeshHeadersOnly(seen, null));
  }

  /** The documented limit: the destination parses only ports declared http, http2 or grpc. */
  @Test
  void aPortDeclaredTcpIsRelayedUntouchedSoItCarriesNoIdentityHeadersTheWorkloadCanTrust() throws Exception {
    serve(MtlsMode.PERMISSIVE, "tcp", List.of());
    try (RawHttp c = fx.plaintextClient(WEB, web.address().getPort())) {
      c.send(http1("/raw/%61"));
      assertThat(c.read().status()).isEqualTo(200);
    }
    RecordingBackend.Seen seen = web.seen.peek();
    assertThat(seen.target()).as("bytes relayed, not normalized").isEqualTo("/raw/%61");
    assertThat(seen.all("x-forwarded-client-cert")).as("the caller's own lines, as sent").hasSize(3);
    assertThat(fx.inspection.connections()).as("the HTTP engine never saw the connection").isZero();
  }
}
