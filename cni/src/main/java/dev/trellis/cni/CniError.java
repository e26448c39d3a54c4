package dev.trellis.cni;

import com.google.gson.JsonObject;

/**
 * A CNI error result: printed as JSON on stdout with a non-zero exit status. Codes below 100 are the
 * spec's well-known ones; 100 and up are Trellis's.
 */
public final class CniError extends RuntimeException {

  public static final int INCOMPATIBLE_VERSION = 1;
  public static final int UNSUPPORTED_FIELD = 2;
  public static final int UNKNOWN_CONTAINER = 3;
  public static final int INVALID_ENVIRONMENT = 4;
  public static final int IO_FAILURE = 5;
  public static final int DECODING_FAILURE = 6;
  public static final int INVALID_CONFIG = 7;
  public static final int TRY_AGAIN_LATER = 11;
  /** STATUS (CNI 1.1): the plugin cannot take ADDs now. */
  public static final int NOT_AVAILABLE = 50;
  /** CHECK: the pod should be captured but its redirection is not in place. */
  public static final int REDIRECTION_MISSING = 100;
  /** The node agent answered, but failed to install or remove redirection. */
  public static final int AGENT_FAILED = 101;

  private final int code;
  private final String details;

  public CniError(int code, String message, String details) {
    super(message, null, false, false);
    this.code = code;
    this.details = details;
  }

  public int code() {
    return code;
  }

  public String details() {
    return details;
  }

  /** The spec's error object, in the given (request's, or our newest) CNI version. */
  JsonObject toJson(String cniVersion) {
    JsonObject o = new JsonObject();
    o.addProperty("cniVersion", cniVersion);
    o.addProperty("code", code);
    o.addProperty("msg", getMessage());
    if (details != null) {
      o.addProperty("details", details);
    }
    return o;
  }
}
