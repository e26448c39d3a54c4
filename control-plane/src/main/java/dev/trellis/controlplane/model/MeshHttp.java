package dev.trellis.controlplane.model;

import java.util.Objects;

/**
 * The mesh file's {@code http} section: how node proxies (and Envoy-style xDS clients) normalize request paths before
 * routing and authorization. Mesh-wide; in a cluster the strict defaults apply.
 *
 * @param escapedSlashes what {@code %2F} and {@code %5C} in a path do (Envoy's {@code path_with_escaped_slashes_action})
 * @param pathParameters what a {@code ;} in a path does
 */
public record MeshHttp(EscapedSlashes escapedSlashes, PathParameters pathParameters) {

  /** Refuse (400) escaped slashes and path parameters. */
  public static final MeshHttp DEFAULTS = new MeshHttp(EscapedSlashes.REJECT_REQUEST, PathParameters.REJECT);

  public MeshHttp {
    Objects.requireNonNull(escapedSlashes, "escapedSlashes");
    Objects.requireNonNull(pathParameters, "pathParameters");
  }

  // Written out, as Workload's are (see there): part of every translation cache key.
  @Override
  public boolean equals(Object o) {
    return o instanceof MeshHttp h && escapedSlashes == h.escapedSlashes && pathParameters == h.pathParameters;
  }

  @Override
  public int hashCode() {
    return escapedSlashes.hashCode() * 31 + pathParameters.hashCode();
  }

  /** The two values of Envoy's enum that are offered; keeping them unchanged would let workloads read paths apart. */
  public enum EscapedSlashes {
    REJECT_REQUEST,
    UNESCAPE_AND_FORWARD
  }

  public enum PathParameters {
    /** 400 for any {@code ;} in a path. */
    REJECT,
    /** {@code ;...} is cut from each segment before matching, and the workload receives the path without it. */
    STRIP
  }
}
