package dev.trellis.proxy.flags;

import dev.trellis.proxy.http.HttpLimits;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Option;

/**
 * The HTTP engine's timeouts and size limits as node-proxy flags (a picocli mixin), read into {@link HttpLimits}
 * (errors name the flag and what it expects). Defaults are {@link HttpLimits#DEFAULTS}:
 *
 * <pre>
 * --request-headers-timeout 30s   first byte of a request to the end of its headers (else 408)
 * --idle-timeout 1h               an established connection with no request in progress and no bytes
 * --first-byte-timeout 15s        a new connection to an HTTP service must say its protocol (else closed)
 * --request-body-timeout 30s      silence while the proxy waits for more request body (else 408)
 * --max-response-headers-kb 60    an upstream response header section larger than this is answered 502 (UPE)
 * --max-response-headers 100      an upstream response with more header fields is answered 502 (UPE)
 * </pre>
 */
public final class HttpLimitsFlags {

  private static final Pattern DURATION = Pattern.compile("(\\d{1,9})(ms|s|m|h)");

  @Option(names = "--request-headers-timeout", paramLabel = "DURATION", description = "From a request's first byte to "
      + "the end of its headers, else 408 (default: 30s).")
  String requestHeadersTimeout;

  @Option(names = "--idle-timeout", paramLabel = "DURATION", description = "An established downstream HTTP connection "
      + "with no request in progress and no bytes closes after this (default: 1h).")
  String idleTimeout;

  @Option(names = "--first-byte-timeout", paramLabel = "DURATION", description = "A new connection to an HTTP service "
      + "must send its first byte (an HTTP/2 preface whole) within this, else it closes; TCP services have none "
      + "(default: 15s).")
  String firstByteTimeout;

  @Option(names = "--request-body-timeout", paramLabel = "DURATION", description = "While the proxy waits for more of "
      + "a request body, the client must send some within this, else 408 (default: 30s).")
  String requestBodyTimeout;

  @Option(names = "--max-response-headers-kb", paramLabel = "KIB", description = "An upstream response header section "
      + "larger than this is answered 502, flag UPE (default: 60).")
  String maxResponseHeadersKb;

  @Option(names = "--max-response-headers", paramLabel = "N", description = "An upstream response with more header "
      + "fields than this is answered 502, flag UPE (default: 100).")
  String maxResponseHeaders;

  /**
   * The limits the flags ask for.
   *
   * @throws IllegalArgumentException naming the flag and what it expects
   */
  public HttpLimits limits() {
    HttpLimits d = HttpLimits.DEFAULTS;
    int kib = whole("--max-response-headers-kb", maxResponseHeadersKb, d.maxResponseHeaderBytes() / 1024, 1, 1024);
    int count = whole("--max-response-headers", maxResponseHeaders, d.maxResponseHeaders(), 1, 10_000);
    return new HttpLimits(duration("--request-headers-timeout", requestHeadersTimeout, d.headerTimeout()),
        duration("--idle-timeout", idleTimeout, d.idleTimeout()),
        duration("--first-byte-timeout", firstByteTimeout, d.firstByteTimeout()),
        duration("--request-body-timeout", requestBodyTimeout, d.requestBodyTimeout()), kib * 1024, count);
  }

  /** {@code 250ms}, {@code 15s}, {@code 2m}, {@code 1h}; more than zero. */
  static Duration duration(String flag, String value, Duration absent) {
    if (value == null) {
      return absent;
    }
    Matcher m = DURATION.matcher(value.strip());
    long n = m.matches() ? Long.parseLong(m.group(1)) : 0;
    if (n <= 0) {
      throw new IllegalArgumentException(flag + " '" + value + "' (expected: a duration above zero, e.g. 500ms, 15s, "
          + "2m, 1h)");
    }
    return switch (m.group(2)) {
      case "ms" -> Duration.ofMillis(n);
      case "s" -> Duration.ofSeconds(n);
      case "m" -> Duration.ofMinutes(n);
      default -> Duration.ofHours(n);
    };
  }

  static int whole(String flag, String value, int absent, int min, int max) {
    if (value == null) {
      return absent;
    }
    try {
      int n = Integer.parseInt(value.strip());
      if (n >= min && n <= max) {
        return n;
      }
    } catch (NumberFormatException e) {
      // below
    }
    throw new IllegalArgumentException(flag + " '" + value + "' (expected: a whole number from " + min + " to " + max
        + ")");
  }
}
