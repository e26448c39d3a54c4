package dev.trellis.proxy.http;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Hop-by-hop headers (RFC 9110 7.6.1) end at the proxy: {@code Connection} and every header it
 * names, {@code Keep-Alive}, {@code Proxy-Connection}, {@code TE} (except {@code trailers}, which gRPC
 * needs) and {@code Upgrade} unless the exchange is an upgrade. Framing headers
 * ({@code Content-Length}, {@code Transfer-Encoding}) stay: the codecs frame the message by them.
 */
public final class HeaderHygiene {

  static final AsciiString FLAGS = AsciiString.cached("x-trellis-response-flags");
  static final AsciiString OVERLOADED = AsciiString.cached("x-trellis-overloaded");
  /** Envoy's header for the verified client certificate; only the destination proxy sets it (docs/security.md). */
  static final AsciiString CLIENT_CERT = AsciiString.cached("x-forwarded-client-cert");
  private static final String MESH_PREFIX = "x-trellis-";

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
      if (te.toLowerCase(Locale.ROOT).contains("trailers")) {
        h.set(HttpHeaderNames.TE, HttpHeaderValues.TRAILERS);
      }
    }
    if (upgrade) {
      h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
    } else {
      h.remove(HttpHeaderNames.UPGRADE);
    }
  }

  /**
   * Request headers only the mesh may set, removed from what a caller sent: every {@code x-trellis-*} header and
   * {@code x-forwarded-client-cert}. Allocates nothing when there is none.
   */
  static void stripMeshHeaders(HttpHeaders h) {
    List<String> found = null;
    for (var it = h.iteratorCharSequence(); it.hasNext(); ) {
      CharSequence name = it.next().getKey();
      if (isMeshHeader(name)) {
        if (found == null) {
          found = new ArrayList<>(2);
        }
        found.add(name.toString());
      }
    }
    if (found != null) {
      found.forEach(h::remove);
    }
  }

  static boolean isMeshHeader(CharSequence name) {
    return AsciiString.regionMatches(name, true, 0, MESH_PREFIX, 0, MESH_PREFIX.length())
        || AsciiString.contentEqualsIgnoreCase(name, CLIENT_CERT);
  }

  /** Envoy's {@code x-forwarded-client-cert} value for a verified caller reaching {@code destination}. */
  public static String clientCert(String destination, String caller) {
    return "By=" + destination + ";URI=" + caller;
  }
}
