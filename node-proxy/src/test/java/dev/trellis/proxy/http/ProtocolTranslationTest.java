package dev.trellis.proxy.http;

import static dev.trellis.proxy.http.UpstreamPool.Protocol.HTTP1;
import static dev.trellis.proxy.http.UpstreamPool.Protocol.HTTP2;
import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.proxy.state.ClusterSpec.UpstreamProtocol;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

/** {@link ProtocolTranslation} on Netty's HTTP objects, no sockets. */
class ProtocolTranslationTest {

  @ParameterizedTest(name = "declared {0}, client {1} -> {2}")
  @CsvSource({"HTTP1, HTTP1, HTTP1", "HTTP1, HTTP2, HTTP1", "HTTP2, HTTP1, HTTP2", "HTTP2, HTTP2, HTTP2",
      "DOWNSTREAM, HTTP1, HTTP1", "DOWNSTREAM, HTTP2, HTTP2"})
  void theAttemptSpeaksTheDeclaredProtocolOrTheClientsWhereTheClusterSaysSo(UpstreamProtocol declared,
      UpstreamPool.Protocol client, UpstreamPool.Protocol expected) {
    assertThat(ProtocolTranslation.upstream(declared, client)).isEqualTo(expected);
  }

  private static HttpRequest request(String method, String uri, Map<String, List<String>> headers) {
    HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.valueOf(method), uri);
    headers.forEach((n, vs) -> vs.forEach(v -> r.headers().add(n, v)));
    return r;
  }

  @Test
  void toHttp2HostBecomesAuthorityAndConnectionSpecificHeadersAreDropped() {
    HttpRequest r = request("POST", "/a/b?c=d", Map.of(
        "Host", List.of("web.d.svc.cluster.local:8080"),
        "Connection", List.of("keep-alive, X-Hop"),
        "X-Hop", List.of("1"),
        "Keep-Alive", List.of("timeout=5"),
        "Proxy-Connection", List.of("keep-alive"),
        "Transfer-Encoding", List.of("chunked"),
        "Upgrade", List.of("h2c"),
        "TE", List.of("trailers, deflate"),
        "X-App", List.of("a", "b")));
    Object head = ProtocolTranslation.requestHead(r, HTTP1, HTTP2, false);
    assertThat(head).isInstanceOfSatisfying(Http2HeadersFrame.class, f -> {
      assertThat(f.isEndStream()).as("the body follows").isFalse();
      Http2Headers h = f.headers();
      assertThat(h.method()).hasToString("POST");
      assertThat(h.path()).hasToString("/a/b?c=d");
      assertThat(h.scheme()).hasToString("http");
      assertThat(h.authority()).hasToString("web.d.svc.cluster.local:8080");
      assertThat(h.names()).extracting(CharSequence::toString).containsExactlyInAnyOrder(
          ":method", ":path", ":scheme", ":authority", "te", "x-app");
      assertThat(h.getAll("te")).extracting(CharSequence::toString).containsExactly("trailers");
      assertThat(h.getAll("x-app")).extracting(CharSequence::toString).containsExactly("a", "b");
    });
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({"/, /", "/p?q=1, /p?q=1", "*, *", "http://h:80/p?q, /p?q", "http://h, /", "http://h?q=1, /?q=1",
      "http://u@h/x, /x"})
  void theHttp2PathIsTheTargetsPathAndQuery(String target, String path) {
    assertThat(ProtocolTranslation.path(target)).isEqualTo(path);
  }

  @Test
  void anAbsoluteFormTargetWithoutHostGivesTheAuthority() {
    Http2Headers h = ProtocolTranslation.http2Headers(request("GET", "http://user@web.d:81/x", Map.of()));
    assertThat(h.authority()).hasToString("web.d:81");
    assertThat(h.path()).hasToString("/x");
  }

  @Test
  void toHttp1FromHttp2TheCodecsMarkersGoAndABodyOfUnknownLengthIsChunked() {
    HttpRequest r = request("POST", "/up", Map.of("host", List.of("web"), "x-http2-scheme", List.of("http"),
        "x-http2-stream-id", List.of("3"), "x-http2-path", List.of("/up")));
    assertThat(ProtocolTranslation.requestHead(r, HTTP2, HTTP1, false)).isSameAs(r);
    assertThat(r.headers().names()).containsExactlyInAnyOrder("host", "transfer-encoding");
    assertThat(r.headers().get("transfer-encoding")).isEqualTo("chunked");

    HttpRequest sized = request("POST", "/up", Map.of("content-length", List.of("4")));
    ProtocolTranslation.requestHead(sized, HTTP2, HTTP1, false);
    assertThat(sized.headers().contains("transfer-encoding")).as("its length frames it").isFalse();

    HttpRequest ended = request("GET", "/", Map.of("transfer-encoding", List.of("chunked")));
    ProtocolTranslation.requestHead(ended, HTTP2, HTTP1, true);
    assertThat(ended.headers().contains("transfer-encoding")).as("ended with its headers: no body to frame").isFalse();
  }

  @Test
  void http1ToHttp1IsLeftAsItIs() {
    HttpRequest r = request("POST", "/", Map.of("x-http2-scheme", List.of("caller's own")));
    assertThat(ProtocolTranslation.requestHead(r, HTTP1, HTTP1, false)).isSameAs(r);
    assertThat(r.headers().names()).containsExactly("x-http2-scheme");
  }

  static Stream<Arguments> responses() {
    HttpResponse streamed = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
    HttpResponse headersOnly = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
    HttpResponse noContent = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.NO_CONTENT);
    HttpResponse sized = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
    sized.headers().set("content-length", "5");
    HttpResponse toHead = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
    HttpResponse fromH1 = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
    return Stream.of(
        Arguments.of("h2 body of unknown length to h1: chunked", streamed, "GET", HTTP2, HTTP1,
            Map.of("transfer-encoding", "chunked")),
        Arguments.of("h2 HEADERS with END_STREAM to h1: length 0", headersOnly, "GET", HTTP2, HTTP1,
            Map.of("content-length", "0")),
        Arguments.of("204 has no body to frame", noContent, "GET", HTTP2, HTTP1, Map.of()),
        Arguments.of("a length frames it", sized, "GET", HTTP2, HTTP1, Map.of("content-length", "5")),
        Arguments.of("a response to HEAD has no body", toHead, "HEAD", HTTP2, HTTP1, Map.of()),
        Arguments.of("h1 to h1 untouched", fromH1, "GET", HTTP1, HTTP1, Map.of()));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("responses")
  void aResponseIsFramedForTheClientsProtocol(String name, HttpResponse res, String method,
      UpstreamPool.Protocol upstream, UpstreamPool.Protocol downstream, Map<String, String> expected) {
    res.headers().add("x-http2-stream-id", "5");
    ProtocolTranslation.responseHead(res, request(method, "/", Map.of()), upstream, downstream);
    res.headers().remove("x-http2-stream-id"); // h2 -> h1 removes it; h1 -> h1 keeps what the upstream sent
    Map<String, String> got = new HashMap<>();
    res.headers().forEach(e -> got.put(e.getKey(), e.getValue()));
    assertThat(got).isEqualTo(expected);
  }

  @Test
  void anHttp2ResponseToAnHttp1ClientLosesTheCodecsMarkers() {
    HttpResponse res = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
    res.headers().set("x-http2-stream-id", "5").set("content-length", "1");
    ProtocolTranslation.responseHead(res, request("GET", "/", Map.of()), HTTP2, HTTP1);
    assertThat(res.headers().names()).containsExactly("content-length");
  }
}
