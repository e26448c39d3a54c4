package dev.trellis.ca;

import static java.util.Objects.requireNonNull;

import io.grpc.Status;
import java.util.Locale;

/**
 * The one exception type of the CA. {@link #reason()} is the stable label used in metrics and logs,
 * and decides the gRPC status a caller sees; the message says what to fix.
 */
public final class CaException extends RuntimeException {

  /** Why a request or the CA's own material was rejected. */
  public enum Reason {
    /** A request field is missing or out of range (e.g. identity empty, negative TTL). */
    INVALID_REQUEST(Status.Code.INVALID_ARGUMENT),
    /** The CSR text is not PEM or not a single CERTIFICATE REQUEST block. */
    MALFORMED_PEM(Status.Code.INVALID_ARGUMENT),
    /** The CSR PEM is larger than the CA accepts. */
    PEM_TOO_LARGE(Status.Code.INVALID_ARGUMENT),
    /** The PEM block does not hold a valid PKCS#10 structure. */
    MALFORMED_CSR(Status.Code.INVALID_ARGUMENT),
    /** The CSR's self-signature does not verify with its own public key. */
    CSR_SIGNATURE_INVALID(Status.Code.INVALID_ARGUMENT),
    /** The CSR has no URI SAN. */
    NO_URI_SAN(Status.Code.INVALID_ARGUMENT),
    /** The CSR has more than one URI SAN. */
    MULTIPLE_URI_SANS(Status.Code.INVALID_ARGUMENT),
    /** A SPIFFE ID (request field or URI SAN) is not valid. */
    INVALID_SPIFFE_ID(Status.Code.INVALID_ARGUMENT),
    /** The identity belongs to a trust domain this CA does not sign for. */
    FOREIGN_TRUST_DOMAIN(Status.Code.INVALID_ARGUMENT),
    /** The CSR's URI SAN differs from the identity asked for. */
    IDENTITY_MISMATCH(Status.Code.INVALID_ARGUMENT),
    /** The CSR's key is too weak or of an unsupported kind. */
    WEAK_KEY(Status.Code.INVALID_ARGUMENT),
    /** No credentials, or credentials the CA does not recognize. */
    UNAUTHENTICATED(Status.Code.UNAUTHENTICATED),
    /** The caller may not obtain this identity (no such workload on its node). */
    NOT_AUTHORIZED(Status.Code.PERMISSION_DENIED),
    /** The CA's own keys/certificates are missing, corrupt or inconsistent. */
    INVALID_CA_MATERIAL(Status.Code.FAILED_PRECONDITION),
    /** A root rotation step is not allowed in the current state. */
    INVALID_ROTATION(Status.Code.FAILED_PRECONDITION),
    /** The CA's store could not be read or written. */
    STORE_FAILURE(Status.Code.UNAVAILABLE),
    /** The caller (by its address) asked for more credential checks than the rate limit allows; retry later. */
    RATE_LIMITED(Status.Code.RESOURCE_EXHAUSTED),
    /** Credentials cannot be checked now (the checker is overloaded or its back end failed); retry later. */
    AUTHENTICATION_UNAVAILABLE(Status.Code.UNAVAILABLE);

    private final Status.Code grpcCode;

    Reason(Status.Code grpcCode) {
      this.grpcCode = grpcCode;
    }

    public Status.Code grpcCode() {
      return grpcCode;
    }

    /** The metric label: the name in lower case. */
    public String label() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  private final Reason reason;

  public CaException(Reason reason, String message) {
    super(message);
    this.reason = requireNonNull(reason, "reason");
  }

  public CaException(Reason reason, String message, Throwable cause) {
    super(message, cause);
    this.reason = requireNonNull(reason, "reason");
  }

  public Reason reason() {
    return reason;
  }

  /** The gRPC status a caller sees: the reason's code and this message, never a stack trace. */
  public Status toStatus() {
    return Status.fromCode(reason.grpcCode()).withDescription(getMessage());
  }
}
