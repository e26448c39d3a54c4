package dev.trellis.proxy.outbound;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;
import java.util.ArrayList;
import java.util.List;

/**
 * Hop-by-hop headers (RFC 9110 7.6.1) end at the proxy: {@code Connection} and every header it
 * names, {@code Keep-Alive}, {@code Proxy-Connection}, {@code TE} (except {@code trailers}, which gRPC
 * needs) and {@code Upgrade} unless the exchange is an upgrade. Framing headers
 * ({@code Content-Length}, {@code Transfer-Encoding}) stay: the codecs frame the message by them.
 */
final class HeaderHygiene {

  static final AsciiString FLAGS = AsciiString.cached("x-trellis-response-flags");
  static final AsciiString OVERLOADED = AsciiString.cached("x-trellis-overloaded");

  private HeaderHygiene() {}

  /** Strips hop-by-hop headers in place; keeps {@code Upgrade} and {@code Connection: upgrade} for an upgrade. */
  static void strip(HttpHeaders h, boolean upgrade) {
    List<String> named = new ArrayList<>();
    for (String v : h.getAll(HttpHeaderNames.CONNECTION)) {
      for (String token : v.split(",")) {
        String t = token.strip();
        if (!t.isEmpty()) {
          named.add(t);
        }
      }
    }
    for (String n : named) {
      if (!(upgrade && n.equalsIgnoreCase("upgrade")) && !n.equalsIgnoreCase("te")) {
        h.remove(n);
      }
    }
    h.remove(HttpHeaderNames.CONNECTION);
    h.remove(HttpHeaderNames.KEEP_ALIVE);
    h.remove("proxy-connection");
    String te = h.get(HttpHeaderNames.TE);
    if (te != null) {
      h.remove(HttpHeaderNames.TE);
      if (te.toLowerCase(java.util.Locale.ROOT).contains("trailers")) {
        h.set(HttpHeaderNames.TE, HttpHeaderValues.TRAILERS);
      }
    }
    if (upgrade) {
      h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
    } else {
      h.remove(HttpHeaderNames.UPGRADE);
    }
  }

  /** Our own markers are ours to set: a client must not forge them on a request. */
  static void stripMarkers(HttpHeaders h) {
    h.remove(FLAGS);
    h.remove(OVERLOADED);
  }
}
