package dev.trellis.proxy.state;

import java.util.Objects;

/**
 * How request paths are normalized before routing (source) and authorization (destination), mesh-wide. The
 * control plane sends it as the outbound listener's {@code filter_metadata.trellis.path_normalization}; the HTTP
 * connection managers it sends carry the same choice in Envoy's own fields for other xDS clients.
 *
 * @param escapedSlashes what {@code %2F} and {@code %5C} in a path do
 * @param pathParameters what a {@code ;} in a path does
 */
public record PathNormalization(EscapedSlashes escapedSlashes, PathParameters pathParameters) {

  /** Refuse what could be read two ways: escaped slashes and path parameters. */
  public static final PathNormalization DEFAULTS =
      new PathNormalization(EscapedSlashes.REJECT_REQUEST, PathParameters.REJECT);

  public PathNormalization {
    Objects.requireNonNull(escapedSlashes, "escapedSlashes");
    Objects.requireNonNull(pathParameters, "pathParameters");
  }

  /** Envoy's {@code path_with_escaped_slashes_action}, the two values offered. */
  public enum EscapedSlashes {
    /** 400: a path with {@code %2F} or {@code %5C} (any case) is refused. */
    REJECT_REQUEST,
    /** Both are decoded to {@code /} before the path is normalized, matched and forwarded. */
    UNESCAPE_AND_FORWARD
  }

  /** Path parameters ({@code /a;jsessionid=x/b}), which servlet containers strip and others keep. */
  public enum PathParameters {
    /** 400: a path with a {@code ;} is refused. */
    REJECT,
    /** Each segment loses its {@code ;...} before matching, and the workload receives the path without them. */
    STRIP
  }
}
