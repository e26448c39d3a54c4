package dev.trellis.proxy.egress;

import java.io.IOException;

/** A passthrough connection that could not be dialed the way it was decided; the reason is its log label. */
public final class EgressException extends IOException {

  /** Why. */
  public enum Reason {
    /** The node agent's state file has no captured pod at the source address. */
    NETNS_UNKNOWN,
    /** The pod's namespace could not be opened or entered. */
    NETNS_FAILED,
    /** The node agent's state file could not be read. */
    STATE_UNREADABLE
  }

  private final Reason reason;

  public EgressException(Reason reason, String message, Throwable cause) {
    super(message, cause);
    this.reason = reason;
  }

  public Reason reason() {
    return reason;
  }
}
