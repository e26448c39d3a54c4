package dev.trellis.proxy.http;

import java.time.Duration;

/**
 * Time and size limits of the HTTP engine (each is a node-proxy flag; docs/node-proxy-operations.md lists them).
 *
 * @param headerTimeout from the first byte of a request to the end of its headers (slow-header
 *     defence); the client gets 408 and the connection closes
 * @param idleTimeout a connection with no request in progress and no bytes for this long closes
 * @param firstByteTimeout a new connection to an HTTP service must send enough to tell its protocol (its first byte;
 *     an HTTP/2 preface whole) within this long, else it closes: the proxy reads before it knows what to do
 * @param requestBodyTimeout while the proxy waits for more of a request body, the client must send some within this
 *     long, else 408 (or, once the response has begun, the connection or HTTP/2 stream ends)
 * @param maxResponseHeaderBytes an upstream response header section larger than this is answered 502 ({@code UPE})
 * @param maxResponseHeaders an upstream response with more header fields than this is answered 502 ({@code UPE})
 */
public record HttpLimits(Duration headerTimeout, Duration idleTimeout, Duration firstByteTimeout,
    Duration requestBodyTimeout, int maxResponseHeaderBytes, int maxResponseHeaders) {

  /**
   * 30 s to send request headers; an idle connection lasts an hour (Envoy's default idle timeout); 15 s to a first
   * byte (Envoy's listener filter timeout, the time its protocol sniffers get); 30 s of request-body silence; response
   * heads up to 60 KiB and 100 headers (Envoy's defaults).
   */
  public static final HttpLimits DEFAULTS = new HttpLimits(Duration.ofSeconds(30), Duration.ofHours(1),
      Duration.ofSeconds(15), Duration.ofSeconds(30), 60 * 1024, 100);

  public HttpLimits {
    positive("headerTimeout", headerTimeout);
    positive("idleTimeout", idleTimeout);
    positive("firstByteTimeout", firstByteTimeout);
    positive("requestBodyTimeout", requestBodyTimeout);
    if (maxResponseHeaderBytes < 1024) {
      throw new IllegalArgumentException("maxResponseHeaderBytes: " + maxResponseHeaderBytes + " (expected: >= 1024)");
    }
    if (maxResponseHeaders < 1) {
      throw new IllegalArgumentException("maxResponseHeaders: " + maxResponseHeaders + " (expected: >= 1)");
    }
  }

  /** The default limits with these two timeouts. */
  public HttpLimits(Duration headerTimeout, Duration idleTimeout) {
    this(headerTimeout, idleTimeout, DEFAULTS.firstByteTimeout, DEFAULTS.requestBodyTimeout,
        DEFAULTS.maxResponseHeaderBytes, DEFAULTS.maxResponseHeaders);
  }

  public HttpLimits withFirstByteTimeout(Duration d) {
    return new HttpLimits(headerTimeout, idleTimeout, d, requestBodyTimeout, maxResponseHeaderBytes,
        maxResponseHeaders);
  }

  public HttpLimits withRequestBodyTimeout(Duration d) {
    return new HttpLimits(headerTimeout, idleTimeout, firstByteTimeout, d, maxResponseHeaderBytes, maxResponseHeaders);
  }

  /** Response heads up to {@code bytes} and {@code headers} header fields. */
  public HttpLimits withMaxResponseHeaders(int bytes, int headers) {
    return new HttpLimits(headerTimeout, idleTimeout, firstByteTimeout, requestBodyTimeout, bytes, headers);
  }

  private static void positive(String name, Duration d) {
    if (d == null || d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(name + ": " + d + " (expected: > 0)");
    }
  }
}
