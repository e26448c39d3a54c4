package dev.trellis.proxy.http;

import dev.trellis.proxy.state.ClusterSpec;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.HttpConversionUtil;
import io.netty.handler.codec.http2.HttpConversionUtil.ExtensionHeaderNames;

/**
 * What changes when a request crosses from the protocol the client speaks to the one the service's port declares, and
 * its response back. Pure functions over Netty's HTTP objects, the common form of both protocols (an HTTP/2 stream
 * becomes them through {@code Http2StreamFrameToHttpObjectCodec}):
 * <ul>
 *   <li>to an HTTP/2 upstream the request head is written as HTTP/2 headers built here: {@code :authority} from
 *       {@code Host}, {@code :scheme} http (the hop to the workload is plaintext inside the tunnel), and none of the
 *       connection-specific headers ({@code Connection} and what it names, {@code Keep-Alive}, {@code Proxy-Connection},
 *       {@code Transfer-Encoding}, {@code Upgrade}, {@code TE} other than {@code trailers});
 *   <li>to an HTTP/1.1 upstream from an HTTP/2 client: {@code Host} is the {@code :authority} (the codec's work), the
 *       codec's {@code x-http2-*} markers are dropped, and a body without {@code Content-Length} goes chunked;
 *   <li>an HTTP/2 response to an HTTP/1.1 client: a body without {@code Content-Length} goes chunked (its trailers,
 *       gRPC's {@code grpc-status}, become the last chunk's trailers), a response without body gets
 *       {@code Content-Length: 0} so the client need not wait for the connection to close;
 *   <li>a response to an HTTP/2 client loses the connection-specific headers (the downstream codec drops them).
 * </ul>
 */
final class ProtocolTranslation {

  private static final CharSequence HTTP = "http";

  private ProtocolTranslation() {}

  /** The protocol one attempt speaks to the cluster: the declared one, or the client's where the cluster says so. */
  static UpstreamPool.Protocol upstream(ClusterSpec.UpstreamProtocol declared, UpstreamPool.Protocol downstream) {
    return switch (declared) {
      case HTTP1 -> UpstreamPool.Protocol.HTTP1;
      case HTTP2 -> UpstreamPool.Protocol.HTTP2;
      case DOWNSTREAM -> downstream;
    };
  }

  /**
   * What to write upstream as the request head: the request itself to HTTP/1.1 (made fit for it in place when it came
   * over HTTP/2), an HTTP/2 HEADERS frame (not ending the stream: the body, maybe empty, follows) to HTTP/2.
   * {@code emptyBody}: the whole request has arrived and had no body (an HTTP/2 request that ended with its headers),
   * so HTTP/1.1 needs no framing for it.
   */
  static Object requestHead(HttpRequest request, UpstreamPool.Protocol downstream, UpstreamPool.Protocol upstream,
      boolean emptyBody) {
    if (upstream == UpstreamPool.Protocol.HTTP2) {
      return new DefaultHttp2HeadersFrame(http2Headers(request), false);
    }
    if (downstream == UpstreamPool.Protocol.HTTP2) {
      dropCodecMarkers(request.headers());
      HttpHeaders h = request.headers();
      if (emptyBody) {
        if (HttpUtil.isTransferEncodingChunked(request)) {
          h.remove(HttpHeaderNames.TRANSFER_ENCODING);
        }
      } else if (!HttpUtil.isContentLengthSet(request) && !HttpUtil.isTransferEncodingChunked(request)) {
        // an HTTP/2 body ends with its stream; HTTP/1.1 needs framing, and chunks can carry trailers
        h.set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
      }
    }
    return request;
  }

  /** The request's head as HTTP/2 headers: pseudo-headers first, then every header HTTP/2 allows. */
  static Http2Headers http2Headers(HttpRequest request) {
    Http2Headers out = new DefaultHttp2Headers();
    out.method(request.method().asciiName());
    String host = request.headers().get(HttpHeaderNames.HOST);
    if (request.method().equals(HttpMethod.CONNECT)) {
      out.authority(host != null ? host : request.uri());
    } else {
      out.scheme(HTTP);
      out.path(path(request.uri()));
      if (host != null && !host.isEmpty()) {
        out.authority(host);
      } else {
        String fromTarget = authorityOf(request.uri());
        if (fromTarget != null) {
          out.authority(fromTarget);
        }
      }
    }
    HttpConversionUtil.toHttp2Headers(request.headers(), out);
    return out;
  }

  /**
   * Fits a response head for the client's protocol, in place. {@code request} is the request it answers (a response
   * to HEAD has no body whatever it says).
   */
  static void responseHead(HttpResponse response, HttpRequest request, UpstreamPool.Protocol upstream,
      UpstreamPool.Protocol downstream) {
    if (upstream != UpstreamPool.Protocol.HTTP2 || downstream != UpstreamPool.Protocol.HTTP1) {
      return;
    }
    HttpHeaders h = response.headers();
    dropCodecMarkers(h);
    int code = response.status().code();
    if (code < 200 || code == 204 || code == 304 || request.method().equals(HttpMethod.HEAD)
        || HttpUtil.isContentLengthSet(response)) {
      return;
    }
    if (response instanceof FullHttpResponse full) {
      if (full.content().readableBytes() == 0 && full.trailingHeaders().isEmpty()) {
        h.setInt(HttpHeaderNames.CONTENT_LENGTH, 0); // HEADERS with END_STREAM: no body at all
        return;
      }
    }
    if (!HttpUtil.isTransferEncodingChunked(response)) {
      h.set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
    }
  }

  /** Netty's HTTP/2 codec marks the HTTP objects it makes with {@code x-http2-*} headers; they are not the peer's. */
  static void dropCodecMarkers(HttpHeaders h) {
    h.remove(ExtensionHeaderNames.STREAM_ID.text());
    h.remove(ExtensionHeaderNames.SCHEME.text());
    h.remove(ExtensionHeaderNames.PATH.text());
  }

  /** {@code :path} from a request target: origin-form and {@code *} as they are; absolute-form's path and query. */
  static String path(String uri) {
    if (uri.startsWith("/") || uri.equals("*")) {
      return uri;
    }
    int scheme = uri.indexOf("://");
    if (scheme < 0) {
      return uri.isEmpty() ? "/" : uri;
    }
    int slash = uri.indexOf('/', scheme + 3);
    int query = uri.indexOf('?', scheme + 3);
    if (slash < 0 || query >= 0 && query < slash) {
      return query < 0 ? "/" : "/" + uri.substring(query);
    }
    return uri.substring(slash);
  }

  /** The authority of an absolute-form request target, or null. */
  private static String authorityOf(String uri) {
    int scheme = uri.indexOf("://");
    if (scheme < 0) {
      return null;
    }
    int end = scheme + 3;
    while (end < uri.length() && "/?#".indexOf(uri.charAt(end)) < 0) {
      end++;
    }
    String a = uri.substring(scheme + 3, end);
    int at = a.lastIndexOf('@');
    a = at < 0 ? a : a.substring(at + 1);
    return a.isEmpty() ? null : a;
  }
}
