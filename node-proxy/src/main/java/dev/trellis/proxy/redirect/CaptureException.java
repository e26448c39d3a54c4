package dev.trellis.proxy.redirect;

/**
 * The node agent could not do what the runtime asked for a pod (the CNI plugin reports it as the agent's failure, so
 * the runtime retries or gives up). The message says which pod and why.
 */
public final class CaptureException extends RuntimeException {

  /** Why. */
  public enum Reason {
    /** The agent has not finished taking back its pods after a start. */
    NOT_READY,
    /** The pod directory does not know the pod yet (the runtime retries; the directory catches up). */
    UNKNOWN_POD,
    /** A pod annotation cannot be used (e.g. a malformed exclusion). */
    BAD_ANNOTATION,
    /** Installing, removing or verifying redirection failed. */
    REDIRECTION_FAILED
  }

  private final Reason reason;

  public CaptureException(Reason reason, String message) {
    super(message, null, false, false);
    this.reason = reason;
  }

  public Reason reason() {
    return reason;
  }
}
