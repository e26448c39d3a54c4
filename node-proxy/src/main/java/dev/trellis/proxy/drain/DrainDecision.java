package dev.trellis.proxy.drain;

import java.time.Duration;

/**
 * What one downstream connection does when the proxy starts draining: pure functions of what the connection is doing,
 * so every connection kind's answer is pinned table-style ({@code DrainDecisionTest}). The handler that knows the
 * connection's protocol asks on the connection's own event loop and does what it says.
 */
public final class DrainDecision {

  private DrainDecision() {}

  /** What kind of connection it is, as far as draining goes. */
  public enum Kind {
    /** A downstream HTTP/1.1 connection (the proxy answers its requests one at a time). */
    HTTP1,
    /** A downstream HTTP/2 connection (prior knowledge): any application's client. */
    HTTP2,
    /** An HBONE tunnel connection: HTTP/2 from another node proxy (or another HBONE peer). */
    HBONE,
    /** Bytes relayed as they are (a TCP service, an upgraded connection): the proxy cannot tell the client to leave. */
    RELAY
  }

  /**
   * How long an idle HTTP/1.1 connection must stay silent, once the drain has begun, before it is closed. Closing it at
   * once raced the client's next request, already on its way on a keep-alive connection (h2load counted such requests
   * as errored: it does not send a request again): a request that comes within this time is answered, with {@code
   * Connection: close}.
   */
  public static final Duration HTTP1_QUIET = Duration.ofSeconds(1);

  /**
   * How long a downstream HTTP/2 connection must have had no open stream before it gets its GOAWAY notice. Some clients
   * (h2load among them) fail every request they had not sent yet once a GOAWAY arrives instead of sending it on a new
   * connection: a client in the middle of a batch finishes it first.
   */
  public static final Duration HTTP2_QUIET = Duration.ofSeconds(1);

  /**
   * The longest a busy downstream HTTP/2 connection waits for its GOAWAY notice: this, or a quarter of the drain
   * timeout when that is shorter, so that its streams have the rest of the drain to finish.
   */
  public static final Duration HTTP2_NOTICE_AT_LATEST = Duration.ofSeconds(5);

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
     * HBONE: send GOAWAY now (a shutdown notice naming the largest stream id, see GoAwayOnDrainHandler), let the open
     * streams finish, close when none is left. Node proxies open their next streams on a new connection at once.
     */
    GO_AWAY,
    /**
     * Downstream HTTP/2: as {@link #GO_AWAY}, but the notice waits until {@link #http2NoticeDue} says so: the
     * connection has been quiet, or the wait has lasted long enough.
     */
    GO_AWAY_WHEN_QUIET,
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
      case HTTP2 -> Action.GO_AWAY_WHEN_QUIET;
      case HBONE -> Action.GO_AWAY;
      case RELAY -> Action.WAIT_FOR_TIMEOUT;
    };
  }

  /**
   * Whether a downstream HTTP/2 connection ({@link Action#GO_AWAY_WHEN_QUIET}) gets its GOAWAY notice now.
   *
   * @param sinceDrain how long ago the drain began
   * @param quiet how long the connection has had no open stream ({@link Duration#ZERO} while one is open)
   * @param timeout the drain's timeout
   */
  public static boolean http2NoticeDue(Duration sinceDrain, Duration quiet, Duration timeout) {
    return quiet.compareTo(HTTP2_QUIET) >= 0 || sinceDrain.compareTo(http2NoticeAtLatest(timeout)) >= 0;
  }

  /** When a busy downstream HTTP/2 connection gets its notice: {@link #HTTP2_NOTICE_AT_LATEST} or a quarter of it. */
  static Duration http2NoticeAtLatest(Duration timeout) {
    Duration quarter = timeout.dividedBy(4);
    return quarter.compareTo(HTTP2_NOTICE_AT_LATEST) < 0 ? quarter : HTTP2_NOTICE_AT_LATEST;
  }
}
