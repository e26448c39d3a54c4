package dev.trellis.mtls;

import static java.util.Objects.requireNonNull;

/**
 * The one exception type of the mTLS module. {@link #reason()} is stable and machine-readable: it is
 * the label used in metrics and access logs; the message is for the operator and says what to check.
 */
public final class MtlsException extends RuntimeException {

  /** Why an identity, certificate or handshake was rejected. */
  public enum Reason {
    /** A string is not a valid SPIFFE ID. */
    INVALID_SPIFFE_ID,
    /** PEM text could not be decoded into certificates or a key. */
    MALFORMED_PEM,
    /** A certificate chain or key pair does not form a usable SVID. */
    INVALID_SVID,
    /** The peer presented no certificate. */
    NO_PEER_CERTIFICATE,
    /** The leaf carries no URI SAN. */
    NO_URI_SAN,
    /** The leaf carries more than one URI SAN. */
    MULTIPLE_URI_SANS,
    /** The leaf is a CA certificate or lacks the key usage of an X.509-SVID leaf. */
    NOT_A_LEAF,
    /** A certificate in the chain is past its notAfter. */
    EXPIRED,
    /** A certificate in the chain is before its notBefore. */
    NOT_YET_VALID,
    /** The peer's trust domain is not the one this side trusts. */
    FOREIGN_TRUST_DOMAIN,
    /** The chain does not lead to a root of the trust bundle. */
    UNTRUSTED_CHAIN,
    /** The peer's SPIFFE ID is valid but not one this connection expects. */
    UNEXPECTED_PEER_IDENTITY,
    /** No SVID is available (never issued, or expired without renewal). */
    SVID_UNAVAILABLE,
    /** Building a TLS context failed. */
    TLS_CONTEXT,
  }

  private final Reason reason;

  public MtlsException(Reason reason, String message) {
    super(message);
    this.reason = requireNonNull(reason, "reason");
  }

  public MtlsException(Reason reason, String message, Throwable cause) {
    super(message, cause);
    this.reason = requireNonNull(reason, "reason");
  }

  public Reason reason() {
    return reason;
  }
}
