package dev.trellis.proxy.drain;

/**
 * What one downstream connection does when the proxy starts draining: a pure function of what the connection is
 * doing at that moment, so every connection kind's answer is pinned table-style ({@code DrainDecisionTest}). The
 * handler that knows the connection's protocol asks it on the connection's own event loop and does what it says.
 */
public final class DrainDecision {

  private DrainDecision() {}

  /** What kind of connection it is, as far as draining goes. */
  public enum Kind {
    /** A downstream HTTP/1.1 connection (the proxy answers its requests one at a time). */
    HTTP1,
    /** A connection the proxy serves HTTP/2 on: downstream h2 (prior knowledge) or an HBONE tunnel connection. */
    HTTP2,
    /** Bytes relayed as they are (a TCP service, an upgraded connection): the proxy cannot tell the client to leave. */
    RELAY
  }

  /**
   * How long an idle HTTP/1.1 connection must stay silent, once the drain has begun, before it is closed. Closing it at
   * once raced the client's next request, already on its way on a keep-alive connection (h2load counted such requests
   * as errored: it does not send a request again): a request that comes within this time is answered, with {@code
   * Connection: close}.
   */
  public static final java.time.Duration HTTP1_QUIET = java.time.Duration.ofSeconds(1);

  /** What the connection's handler does. */
  public enum Action {
    /**
     * HTTP/1.1 with nothing in flight: close the connection once it has been silent for {@link #HTTP1_QUIET}; a request
     * that comes first is answered with {@code Connection: close}, then the connection closes.
     */
    CLOSE_WHEN_QUIET,
    /** HTTP/1.1 with a request in flight: its response carries {@code Connection: close}, then the connection closes. */
    CLOSE_AFTER_RESPONSE,
    /**
     * HTTP/2: send GOAWAY (a shutdown notice naming the largest stream id, see GoAwayOnDrainHandler), let the open
     * streams finish, close when none is left.
     */
    GO_AWAY,
    /** Nothing to tell the peer: the connection runs until it ends or the drain timeout cuts it. */
    WAIT_FOR_TIMEOUT
  }

  /**
   * @param kind the connection's kind
   * @param inFlight HTTP/1.1: a request is being answered or waits to be (pipelined); ignored otherwise
   */
  public static Action decide(Kind kind, boolean inFlight) {
    return switch (kind) {
      case HTTP1 -> inFlight ? Action.CLOSE_AFTER_RESPONSE : Action.CLOSE_WHEN_QUIET;
      case HTTP2 -> Action.GO_AWAY;
      case RELAY -> Action.WAIT_FOR_TIMEOUT;
    };
  }
}
