package dev.trellis.proxy.host;

import java.io.IOException;

/** A host program that did not run to completion; the message names the command and what to check. */
public final class HostCommandException extends IOException {

  /** Why. */
  public enum Reason {
    /** The program could not be started (not installed, not executable) or its output not kept. */
    CANNOT_START,
    /** It did not finish within its timeout and was killed. */
    TIMED_OUT,
    /** The waiting thread was interrupted; the program was killed. */
    INTERRUPTED
  }

  private final Reason reason;

  HostCommandException(Reason reason, String message, Throwable cause) {
    super(message, cause);
    this.reason = reason;
  }

  public Reason reason() {
    return reason;
  }
}
