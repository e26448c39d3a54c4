package dev.trellis.xds.server;

import static java.util.Objects.requireNonNull;

import io.grpc.Status;
import java.util.Locale;

/**
 * The one exception of the ADS server: why a stream is refused or closed. {@link #reason()} is the metric
 * label ({@code trellis_control_plane_refusals_total{service="xds",reason=...}}) and fixes the gRPC status;
 * the message names the limit or the field and what to do, and is what the client sees.
 */
public final class AdsRefusal extends RuntimeException {

  /** Why a stream was refused. */
  public enum Reason {
    /** No or unknown credentials where they are required. */
    UNAUTHENTICATED(Status.Code.UNAUTHENTICATED),
    /** Authenticated, but the request names something the caller may not be (e.g. another node's Node.id). */
    PERMISSION_DENIED(Status.Code.PERMISSION_DENIED),
    /** The first request lacks what identifies the client (Node.id). */
    INVALID_NODE(Status.Code.INVALID_ARGUMENT),
    /** A resource name is longer than {@link AdsLimits#maxNameLength()}. */
    NAME_TOO_LONG(Status.Code.INVALID_ARGUMENT),
    /** More subscribed names (or initial resource versions) of one type than the client's limit. */
    TOO_MANY_NAMES(Status.Code.RESOURCE_EXHAUSTED),
    /** More subscription changes of one type while a response is unanswered than the client's limit. */
    TOO_MANY_UNANSWERED_CHANGES(Status.Code.RESOURCE_EXHAUSTED),
    /** More streams on one connection than {@link AdsLimits#maxStreamsPerConnection()}. */
    TOO_MANY_STREAMS_PER_CONNECTION(Status.Code.RESOURCE_EXHAUSTED),
    /** More streams of one authenticated client than {@link AdsLimits#maxStreamsPerClient()}. */
    TOO_MANY_STREAMS_PER_CLIENT(Status.Code.RESOURCE_EXHAUSTED),
    /** More anonymous streams than {@link AdsLimits#maxAnonymousStreams()}. */
    TOO_MANY_ANONYMOUS_STREAMS(Status.Code.RESOURCE_EXHAUSTED),
    /** A type URL the server does not serve: the request is ignored, the stream stays open. */
    UNSUPPORTED_TYPE(Status.Code.OK),
    /** Handling the request failed unexpectedly. */
    INTERNAL(Status.Code.INTERNAL);

    private final Status.Code code;

    Reason(Status.Code code) {
      this.code = code;
    }

    /** The metric label. */
    public String label() {
      return name().toLowerCase(Locale.ROOT);
    }

    /** The reason of a status an authorizer refused with. */
    static Reason of(Status.Code code) {
      return switch (code) {
        case UNAUTHENTICATED -> UNAUTHENTICATED;
        case PERMISSION_DENIED -> PERMISSION_DENIED;
        case INVALID_ARGUMENT -> INVALID_NODE;
        default -> PERMISSION_DENIED;
      };
    }
  }

  private final Reason reason;

  AdsRefusal(Reason reason, String message) {
    super(message, null, false, false); // no stack trace: refusals are expected, and cheap
    this.reason = requireNonNull(reason, "reason");
  }

  public Reason reason() {
    return reason;
  }

  /** What the client sees. */
  public Status toStatus() {
    return Status.fromCode(reason.code).withDescription(getMessage());
  }
}
