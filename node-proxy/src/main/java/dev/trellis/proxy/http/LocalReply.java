package dev.trellis.proxy.http;

import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;

/**
 * A response the proxy makes itself (no route, no healthy upstream, overflow, timeout, upstream
 * failure). It carries the response flag in {@code x-trellis-response-flags} (Envoy's flag letters),
 * and overflow also {@code x-trellis-overloaded: true}. A gRPC request gets a gRPC answer instead:
 * HTTP 200 with {@code grpc-status} and {@code grpc-message} in a trailers-only response.
 */
public record LocalReply(int status, Flag flag, String message) {

  /** Envoy's response flags for the replies we make. */
  public enum Flag {
    /** No route matched. */
    NR,
    /** The route's cluster is unknown. */
    NC,
    /** No healthy upstream host. */
    UH,
    /** Upstream connection failure. */
    UF,
    /** Upstream connection termination (reset before response headers). */
    UC,
    /** Upstream overflow: a circuit breaker refused. */
    UO,
    /** Upstream request timeout. */
    UT,
    /** Upstream protocol error: the upstream's response was not valid HTTP (answered 502). */
    UPE,
    /** Bad downstream request. */
    DPE,
    /** Denied by an authorization policy. */
    RBAC
  }

  public static LocalReply of(int status, Flag flag, String message) {
    return new LocalReply(status, flag, message);
  }

  FullHttpResponse toResponse(HttpRequest request, ByteBufAllocator alloc) {
    String ct = request == null ? null : request.headers().get(HttpHeaderNames.CONTENT_TYPE);
    HttpVersion version = request == null ? HttpVersion.HTTP_1_1 : request.protocolVersion();
    FullHttpResponse r;
    if (ct != null && ct.startsWith("application/grpc")) {
      r = new DefaultFullHttpResponse(version, HttpResponseStatus.OK, Unpooled.EMPTY_BUFFER);
      r.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/grpc");
      r.headers().set("grpc-status", Integer.toString(grpcStatus()));
      r.headers().set("grpc-message", percentEncode(message));
      r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, 0);
    } else {
      r = new DefaultFullHttpResponse(version, HttpResponseStatus.valueOf(status),
          ByteBufUtil.writeUtf8(alloc, message + "\n"));
      r.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
      r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, r.content().readableBytes());
    }
    r.headers().set(HeaderHygiene.FLAGS, flag.name());
    if (flag == Flag.UO) {
      r.headers().set(HeaderHygiene.OVERLOADED, "true");
    }
    return r;
  }

  /** gRPC's HTTP-to-status mapping, with a timeout as DEADLINE_EXCEEDED. */
  int grpcStatus() {
    if (flag == Flag.UT) {
      return 4;
    }
    return switch (status) {
      case 400 -> 13;
      case 401 -> 16;
      case 403 -> 7;
      case 404 -> 12;
      case 429, 502, 503, 504 -> 14;
      default -> 2;
    };
  }

  private static String percentEncode(String s) {
    StringBuilder b = new StringBuilder();
    for (byte c : s.getBytes(StandardCharsets.UTF_8)) {
      if (c >= 0x20 && c <= 0x7e && c != '%') {
        b.append((char) c);
      } else {
        b.append('%').append(String.format("%02X", c & 0xff));
      }
    }
    return b.toString();
  }
}
