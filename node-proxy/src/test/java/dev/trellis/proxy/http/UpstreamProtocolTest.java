package dev.trellis.proxy.http;

import static dev.trellis.proxy.testing.ProxyFixture.cluster;
import static dev.trellis.proxy.testing.ProxyFixture.mesh;
import static dev.trellis.proxy.testing.ProxyFixture.rule;
import static dev.trellis.proxy.testing.ProxyFixture.to;
import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.proxy.state.ClusterSpec.UpstreamProtocol;
import dev.trellis.proxy.state.LocalWorkload.MtlsMode;
import dev.trellis.proxy.testing.H2Caller;
import dev.trellis.proxy.testing.ProxyFixture;
import dev.trellis.proxy.testing.RawHttp;
import dev.trellis.proxy.testing.RecordingBackend;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCalls;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Issue 18, item 2: the upstream speaks the protocol the service's port declares, whatever the client speaks — at the
 * source (the cluster's protocol from CDS) and at the destination (the workload port's protocol) — and what does not
 * exist in the other protocol is translated (connection-specific headers, Host and :authority, body framing,
 * trailers). Every path here is SOCKS entry → source proxy → HBONE → destination proxy → workload.
 */
class UpstreamProtocolTest {

  static final String WEB = "127.0.73.40";
  static final String GRPC = "127.0.73.41";

  private final ProxyFixture fx = new ProxyFixture();
  private Server grpc;

  @AfterEach
  void close() throws InterruptedException {
    if (grpc != null) {
      grpc.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    fx.close();
  }

  /** An HTTP/1.1-only service (the JDK's server) answering with the protocol, framing and body it received. */
  private InetSocketAddress http1Only() throws Exception {
    InetSocketAddress web = fx.backend(WEB, ex -> {
      String body = new String(ProxyFixture.readAll(ex), StandardCharsets.UTF_8);
      ex.getResponseHeaders().add("Keep-Alive", "timeout=5");
      ex.getResponseHeaders().add("Proxy-Connection", "keep-alive");
      ProxyFixture.respond(ex, 200, ex.getProtocol() + " host=" + ex.getRequestHeaders().getFirst("Host")
          + " te=" + ex.getRequestHeaders().getFirst("Transfer-Encoding") + " x-http2="
          + ex.getRequestHeaders().keySet().stream().anyMatch(n -> n.toLowerCase().startsWith("x-http2-"))
          + " body=" + body);
    });
    fx.policies(WEB, MtlsMode.STRICT, List.of(), Map.of(web.getPort(), "http"));
    return web;
  }

  @Test
  void anH2cClientReachesAnHttp1OnlyServiceThroughTheSourceAndTheDestination() throws Exception {
    InetSocketAddress web = http1Only();
    fx.http(List.of(rule("all", "/", to("web"))), Map.of(cluster("web", UpstreamProtocol.HTTP1), List.of(mesh(web))));
    try (H2Caller c = fx.h2Client()) {
      for (String path : List.of("/hello", "/again")) { // the second reuses the kept-alive upstream
        H2Caller.Response r = c.send("GET", path);
        assertThat(r.status()).as("flags %s", r.header("x-trellis-response-flags")).isEqualTo(200);
        assertThat(r.body()).isEqualTo("HTTP/1.1 host=web.d.svc.cluster.local te=null x-http2=false body=");
        assertThat(r.headers().names()).as("connection-specific headers of the HTTP/1.1 service never reach an h2 client")
            .extracting(CharSequence::toString).doesNotContain("keep-alive", "proxy-connection", "connection",
                "transfer-encoding");
      }
    }
  }

  @Test
  void anH2ClientsBodyWithoutContentLengthReachesAnHttp1ServiceChunked() throws Exception {
    InetSocketAddress web = http1Only();
    fx.http(List.of(rule("all", "/", to("web"))), Map.of(cluster("web", UpstreamProtocol.HTTP1), List.of(mesh(web))));
    try (H2Caller c = fx.h2Client()) {
      H2Caller.Response r = c.send("POST", "/upload", List.of(), "a body in two frames");
      assertThat(r.status()).as("flags %s", r.header("x-trellis-response-flags")).isEqualTo(200);
      assertThat(r.body()).isEqualTo("HTTP/1.1 host=web.d.svc.cluster.local te=chunked x-http2=false "
          + "body=a body in two frames");
    }
  }

  @Test
  void anHttp1ClientReachesAnHttp2ServiceOverHttp2WithoutItsConnectionSpecificHeaders() throws Exception {
    RecordingBackend web = fx.recordingBackend(WEB);
    fx.policies(WEB, MtlsMode.STRICT, List.of(), Map.of(web.address().getPort(), "http2"));
    fx.http(List.of(rule("all", "/", to("web"))),
        Map.of(cluster("web", UpstreamProtocol.HTTP2), List.of(mesh(web.address()))));
    try (RawHttp c = fx.client()) {
      for (int i = 0; i < 2; i++) {
        c.send("POST /h1?x=" + i + " HTTP/1.1\r\nHost: web.d.svc.cluster.local\r\nConnection: keep-alive, X-Hop\r\n"
            + "X-Hop: 1\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers, deflate\r\n"
            + "Transfer-Encoding: chunked\r\nX-App: kept\r\n\r\n4\r\nbody\r\n0\r\n\r\n");
        RawHttp.Response r = c.read();
        assertThat(r.status()).as("flags %s", r.header("x-trellis-response-flags")).isEqualTo(200);
        assertThat(r.text()).isEqualTo("ok");
      }
    }
    assertThat(web.seen).hasSize(2).allSatisfy(seen -> {
      assertThat(seen.protocol()).isEqualTo("2");
      assertThat(seen.all("host")).as("Host became :authority").containsExactly("web.d.svc.cluster.local");
      assertThat(seen.names()).doesNotContain("connection", "x-hop", "keep-alive", "proxy-connection",
          "transfer-encoding", "upgrade");
      assertThat(seen.all("te")).containsExactly("trailers");
      assertThat(seen.all("x-app")).containsExactly("kept");
    });
    assertThat(web.seen).extracting(RecordingBackend.Seen::target).containsExactly("/h1?x=0", "/h1?x=1");
  }

  /**
   * A cluster that follows the caller (use_downstream_protocol_config) sends each caller's protocol through the tunnel;
   * the destination still speaks the workload port's declared protocol.
   */
  @ParameterizedTest(name = "{0} caller, port {1}")
  @CsvSource({"2, http, 1.1", "1.1, http2, 2", "1.1, grpc, 2", "2, http2, 2"})
  void theDestinationSpeaksTheWorkloadPortsProtocolWhateverArrives(String caller, String port, String expected)
      throws Exception {
    RecordingBackend web = fx.recordingBackend(WEB);
    fx.policies(WEB, MtlsMode.STRICT, List.of(), Map.of(web.address().getPort(), port));
    fx.http(List.of(rule("all", "/", to("web"))),
        Map.of(cluster("web", UpstreamProtocol.DOWNSTREAM), List.of(mesh(web.address()))));
    if (caller.equals("2")) {
      try (H2Caller c = fx.h2Client()) {
        H2Caller.Response r = c.send("GET", "/d");
        assertThat(r.status()).as("flags %s", r.header("x-trellis-response-flags")).isEqualTo(200);
        assertThat(r.body()).isEqualTo("ok");
      }
    } else {
      try (RawHttp c = fx.client()) {
        RawHttp.Response r = c.get("/d");
        assertThat(r.status()).as("flags %s", r.header("x-trellis-response-flags")).isEqualTo(200);
        assertThat(r.text()).isEqualTo("ok");
      }
    }
    assertThat(web.seen).singleElement().satisfies(seen -> {
      assertThat(seen.protocol()).isEqualTo(expected);
      assertThat(seen.all("host")).containsExactly("web.d.svc.cluster.local");
    });
    assertThat(fx.inspection.connections()).as("through the destination's HTTP engine").isPositive();
  }

  /** Routes on one client connection lead to clusters of different protocols: each request speaks its cluster's. */
  @Test
  void eachRequestOnOneConnectionSpeaksTheProtocolOfTheClusterItsRouteChose() throws Exception {
    InetSocketAddress h1 = http1Only();
    RecordingBackend h2 = fx.recordingBackend("127.0.73.42");
    fx.policies("127.0.73.42", MtlsMode.STRICT, List.of(), Map.of(h2.address().getPort(), "http2"));
    fx.http(List.of(rule("to-h1", "/h1", to("web-h1")), rule("to-h2", "/h2", to("web-h2"))), Map.of(
        cluster("web-h1", UpstreamProtocol.HTTP1), List.of(mesh(h1)),
        cluster("web-h2", UpstreamProtocol.HTTP2), List.of(mesh(h2.address()))));
    try (H2Caller c = fx.h2Client()) {
      for (String path : List.of("/h1", "/h2", "/h1", "/h2")) {
        H2Caller.Response r = c.send("GET", path);
        assertThat(r.status()).as("%s: flags %s", path, r.header("x-trellis-response-flags")).isEqualTo(200);
        assertThat(r.body()).isEqualTo(path.equals("/h1") ? "HTTP/1.1 host=web.d.svc.cluster.local te=null "
            + "x-http2=false body=" : "ok");
      }
    }
    try (RawHttp c = fx.client()) {
      for (String path : List.of("/h2", "/h1")) {
        RawHttp.Response r = c.get(path);
        assertThat(r.status()).as("%s: flags %s", path, r.header("x-trellis-response-flags")).isEqualTo(200);
      }
    }
    assertThat(h2.seen).extracting(s -> s.protocol() + " " + s.target()).containsExactly("2 /h2", "2 /h2", "2 /h2");
  }

  /**
   * The destination decides per inspected connection (a connection uses the config current when it starts): a plaintext
   * caller's new connection after the port's declared protocol changed reaches the workload in the new protocol.
   */
  @Test
  void aWorkloadPortWhoseDeclaredProtocolChangesIsSpokenToInTheNewOneOnTheNextConnection() throws Exception {
    RecordingBackend web = fx.recordingBackend(WEB);
    for (String port : List.of("http", "http2", "http")) {
      fx.policies(WEB, MtlsMode.PERMISSIVE, List.of(), Map.of(web.address().getPort(), port));
      fx.http(List.of(rule("all", "/", to("web"))),
          Map.of(cluster("web", UpstreamProtocol.DOWNSTREAM), List.of(mesh(web.address()))));
      try (RawHttp c = fx.plaintextClient(WEB, web.address().getPort())) {
        assertThat(c.get("/" + port).status()).isEqualTo(200);
      }
    }
    assertThat(web.seen).extracting(s -> s.protocol() + " " + s.target())
        .containsExactly("1.1 /http", "2 /http2", "1.1 /http");
  }

  @Test
  void anHttp2ResponseToAnHttp1ClientIsChunkedWithTheGrpcTrailersInTheLastChunk() throws Exception {
    grpc = NettyServerBuilder.forAddress(new InetSocketAddress(GRPC, 0))
        .addService(ServerServiceDefinition.builder("test.Echo")
            .addMethod(GrpcProxyTest.UNARY, ServerCalls.asyncUnaryCall((req, out) -> {
              out.onNext("echo " + req);
              out.onCompleted();
            })).build())
        .build().start();
    fx.workload(GRPC);
    fx.policies(GRPC, MtlsMode.STRICT, List.of(), Map.of(grpc.getPort(), "grpc"));
    fx.http(List.of(rule("all", "/", to("grpc"))), Map.of(cluster("grpc", UpstreamProtocol.HTTP2),
        List.of(mesh(new InetSocketAddress(GRPC, grpc.getPort())))));
    byte[] message = "hi".getBytes(StandardCharsets.UTF_8);
    ByteArrayOutputStream frame = new ByteArrayOutputStream();
    frame.write(new byte[] {0, 0, 0, 0, (byte) message.length});
    frame.write(message);
    try (RawHttp c = fx.client()) {
      c.send("POST /test.Echo/Unary HTTP/1.1\r\nHost: web.d.svc.cluster.local\r\nContent-Type: application/grpc\r\n"
          + "TE: trailers\r\nConnection: close\r\nContent-Length: " + frame.size() + "\r\n\r\n");
      c.send(frame.toByteArray());
      String raw = new String(c.readToEnd(), StandardCharsets.ISO_8859_1).toLowerCase();
      assertThat(raw).startsWith("http/1.1 200 ok\r\n").contains("\r\ntransfer-encoding: chunked\r\n")
          .doesNotContain("x-http2-").contains("echo hi");
      assertThat(raw).as("grpc-status in the last chunk's trailers").containsPattern("\r\n0\r\n(.*\r\n)*grpc-status: 0\r\n");
    }
  }

  @Test
  void aGrpcCallWithNoMessageGetsATrailersOnlyResponseWithContentLengthZeroOverHttp1() throws Exception {
    grpc = NettyServerBuilder.forAddress(new InetSocketAddress(GRPC, 0))
        .addService(ServerServiceDefinition.builder("test.Echo")
            .addMethod(GrpcProxyTest.UNARY, ServerCalls.asyncUnaryCall((req, out) ->
                out.onError(io.grpc.Status.NOT_FOUND.withDescription("none").asRuntimeException()))).build())
        .build().start();
    fx.workload(GRPC);
    fx.policies(GRPC, MtlsMode.STRICT, List.of(), Map.of(grpc.getPort(), "grpc"));
    fx.http(List.of(rule("all", "/", to("grpc"))), Map.of(cluster("grpc", UpstreamProtocol.HTTP2),
        List.of(mesh(new InetSocketAddress(GRPC, grpc.getPort())))));
    try (RawHttp c = fx.client()) {
      c.send("POST /test.Echo/Unary HTTP/1.1\r\nHost: web.d.svc.cluster.local\r\nContent-Type: application/grpc\r\n"
          + "TE: trailers\r\nContent-Length: 7\r\n\r\n");
      c.send(new byte[] {0, 0, 0, 0, 2, 'h', 'i'});
      RawHttp.Response r = c.read();
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.header("grpc-status")).isEqualTo("5");
      assertThat(r.header("content-length")).as("the client need not wait for a close").isEqualTo("0");
      assertThat(r.headers()).doesNotContainKey("x-http2-stream-id");
      assertThat(c.get("/test.Echo/Unary").status()).as("the connection stays usable").isNotZero();
    }
  }

  @Test
  void aWebSocketUpgradeToAnHttp2PortIsAnsweredAtOnceWith501() throws Exception {
    RecordingBackend web = fx.recordingBackend(WEB);
    fx.policies(WEB, MtlsMode.STRICT, List.of(), Map.of(web.address().getPort(), "http2"));
    fx.http(List.of(rule("all", "/", to("web"))),
        Map.of(cluster("web", UpstreamProtocol.HTTP2), List.of(mesh(web.address()))));
    try (RawHttp c = fx.client()) {
      c.send(UpgradeTest.HANDSHAKE);
      RawHttp.Response r = c.read();
      assertThat(r.status()).isEqualTo(501);
      assertThat(r.header("x-trellis-response-flags")).isEqualTo("DPE");
      assertThat(r.text()).contains("Upgrade (websocket)", "HTTP/2", "declare the port http");
      assertThat(c.get("/after").status()).as("an ordinary request on the same connection goes on").isEqualTo(200);
    }
    assertThat(web.seen).extracting(RecordingBackend.Seen::target).containsExactly("/after");
  }
}
