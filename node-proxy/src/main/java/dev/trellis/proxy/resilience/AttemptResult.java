package dev.trellis.proxy.resilience;

/**
 * How one attempt of an HTTP request ended, as far as retries and outlier detection care.
 *
 * @param status the upstream's HTTP status for {@link Kind#RESPONSE}, else 0
 * @param grpcStatus the {@code grpc-status} of a trailers-only response (gRPC errors arrive that way), or -1
 */
public record AttemptResult(Kind kind, int status, int grpcStatus) {

  public enum Kind {
    /** The upstream answered with response headers. */
    RESPONSE,
    /** No connection to the endpoint (TCP, TLS or HBONE CONNECT failed). */
    CONNECT_FAILURE,
    /** The connection or stream ended before response headers arrived. */
    RESET,
    /** An HTTP/2 upstream refused the stream before processing it (REFUSED_STREAM). */
    REFUSED_STREAM,
    /** The per-try timeout fired before response headers arrived. */
    PER_TRY_TIMEOUT,
    /**
     * The upstream's response head was not HTTP: a status line that does not parse, or a status outside 100–599.
     * The connection is closed, never reused; retried as a reset.
     */
    PROTOCOL_ERROR
  }

  public static AttemptResult response(int status) {
    return new AttemptResult(Kind.RESPONSE, status, -1);
  }

  public static AttemptResult grpc(int status, int grpcStatus) {
    return new AttemptResult(Kind.RESPONSE, status, grpcStatus);
  }

  public static AttemptResult of(Kind kind) {
    if (kind == Kind.RESPONSE) {
      throw new IllegalArgumentException("kind: RESPONSE (expected: a failure without a response; use response(status))");
    }
    return new AttemptResult(kind, 0, -1);
  }

  /** Whether this counts against the endpoint for outlier detection: a 5xx, or no response at all. */
  public boolean isServerFailure() {
    return kind != Kind.RESPONSE || status >= 500;
  }
}
