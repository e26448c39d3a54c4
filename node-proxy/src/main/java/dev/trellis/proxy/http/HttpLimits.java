package dev.trellis.proxy.http;

import java.time.Duration;

/**
 * Time limits on downstream HTTP connections.
 *
 * @param headerTimeout from the first byte of a request to the end of its headers (slow-header
 *     defence); the client gets 408 and the connection closes
 * @param idleTimeout a connection with no request in progress and no bytes for this long closes
 */
public record HttpLimits(Duration headerTimeout, Duration idleTimeout) {

  /** 30 s to send request headers; an idle connection lasts an hour (Envoy's default idle timeout). */
  public static final HttpLimits DEFAULTS = new HttpLimits(Duration.ofSeconds(30), Duration.ofHours(1));

  public HttpLimits {
    if (headerTimeout.isNegative() || headerTimeout.isZero()) {
      throw new IllegalArgumentException("headerTimeout: " + headerTimeout + " (expected: > 0)");
    }
    if (idleTimeout.isNegative() || idleTimeout.isZero()) {
      throw new IllegalArgumentException("idleTimeout: " + idleTimeout + " (expected: > 0)");
    }
  }
}
