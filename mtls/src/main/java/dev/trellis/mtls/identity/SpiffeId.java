package dev.trellis.mtls.identity;

import static dev.trellis.mtls.identity.TrustDomain.printable;

import dev.trellis.mtls.MtlsException;
import dev.trellis.mtls.MtlsException.Reason;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.Optional;

/**
 * A SPIFFE ID, {@code spiffe://<trust-domain><path>}, validated per the SPIFFE ID specification:
 * lowercase scheme {@code spiffe}; a trust domain of lowercase letters, digits, {@code .-_}; no
 * userinfo, port, query or fragment; a path of zero or more {@code /segment}s, each non-empty, not
 * {@code .} or {@code ..}, made of letters, digits and {@code .-_}; no trailing slash; at most 2048
 * bytes in all.
 *
 * <p>Workload identities in Trellis have the form {@code spiffe://<td>/ns/<namespace>/sa/<service-account>}
 * ({@link #forWorkload}).
 */
public final class SpiffeId implements Comparable<SpiffeId> {

  static final String SCHEME_PREFIX = "spiffe://";
  static final int MAX_BYTES = 2048;

  private final TrustDomain trustDomain;
  private final String path;
  private final String string;

  private SpiffeId(TrustDomain trustDomain, String path) {
    this.trustDomain = trustDomain;
    this.path = path;
    this.string = SCHEME_PREFIX + trustDomain.name() + path;
  }

  /**
   * Parses a SPIFFE ID.
   *
   * @throws MtlsException with reason {@link Reason#INVALID_SPIFFE_ID} and a message that says what is
   *     wrong and where
   */
  public static SpiffeId parse(String id) {
    if (id == null || id.isEmpty()) {
      throw invalid(id, "is empty (expected: spiffe://<trust-domain>/<path>)");
    }
    if (id.getBytes(StandardCharsets.UTF_8).length > MAX_BYTES) {
      throw invalid(id, "is longer than " + MAX_BYTES + " bytes");
    }
    if (!id.startsWith(SCHEME_PREFIX)) {
      int colon = id.indexOf(':');
      String scheme = colon > 0 ? id.substring(0, colon) : null;
      if ("spiffe".equals(scheme)) {
        throw invalid(id, "scheme 'spiffe' must be followed by '://' and the trust domain");
      }
      if (scheme != null && scheme.equalsIgnoreCase("spiffe")) {
        throw invalid(id, "scheme must be lowercase 'spiffe'");
      }
      throw invalid(id, "scheme is missing or not 'spiffe' (expected: spiffe://<trust-domain>/<path>)");
    }
    int pathStart = id.indexOf('/', SCHEME_PREFIX.length());
    String authority = pathStart < 0 ? id.substring(SCHEME_PREFIX.length()) : id.substring(SCHEME_PREFIX.length(), pathStart);
    String path = pathStart < 0 ? "" : id.substring(pathStart);
    // Query and fragment are checked before the trust domain so "spiffe://td?x" names the real problem.
    if (authority.indexOf('?') >= 0 || path.indexOf('?') >= 0) {
      throw invalid(id, "a query ('?') is not allowed");
    }
    if (authority.indexOf('#') >= 0 || path.indexOf('#') >= 0) {
      throw invalid(id, "a fragment ('#') is not allowed");
    }
    if (authority.isEmpty()) {
      throw invalid(id, "trust domain is missing");
    }
    String problem = TrustDomain.problemWith(authority);
    if (problem != null) {
      throw invalid(id, "trust domain " + problem);
    }
    String pathProblem = problemWithPath(path);
    if (pathProblem != null) {
      throw invalid(id, pathProblem);
    }
    return new SpiffeId(new TrustDomain(authority), path);
  }

  /**
   * Returns a SPIFFE ID in {@code trustDomain} with the given path segments, each validated.
   *
   * @throws MtlsException if a segment is empty, {@code .}/{@code ..} or has a disallowed character
   */
  public static SpiffeId of(TrustDomain trustDomain, String... segments) {
    Objects.requireNonNull(trustDomain, "trustDomain");
    StringBuilder path = new StringBuilder();
    for (String segment : segments) {
      if (segment == null || segment.indexOf('/') >= 0) {
        throw new MtlsException(Reason.INVALID_SPIFFE_ID,
            "path segment '" + printable(segment) + "' must not be null or contain '/'");
      }
      path.append('/').append(segment);
    }
    String p = path.toString();
    String problem = problemWithPath(p);
    if (problem != null) {
      throw invalid(SCHEME_PREFIX + trustDomain.name() + p, problem);
    }
    SpiffeId id = new SpiffeId(trustDomain, p);
    // Trust domain and path are validated ASCII here: one byte per character.
    if (id.string.length() > MAX_BYTES) {
      throw invalid(id.string, "is longer than " + MAX_BYTES + " bytes");
    }
    return id;
  }

  /** The identity of a Kubernetes workload: {@code spiffe://<td>/ns/<namespace>/sa/<serviceAccount>}. */
  public static SpiffeId forWorkload(TrustDomain trustDomain, String namespace, String serviceAccount) {
    return of(trustDomain, "ns", namespace, "sa", serviceAccount);
  }

  private static String problemWithPath(String path) {
    if (path.isEmpty()) {
      return null;
    }
    if (path.endsWith("/")) {
      return "path must not end with '/'";
    }
    int segmentStart = 1;
    while (segmentStart <= path.length()) {
      int next = path.indexOf('/', segmentStart);
      int end = next < 0 ? path.length() : next;
      if (end == segmentStart) {
        return "path has an empty segment ('//') at index " + (SCHEME_PREFIX.length() + segmentStart);
      }
      // Checked in place: this runs for every workload on every reload, and a segment is cut out only for a message.
      if (path.charAt(segmentStart) == '.' && (end - segmentStart == 1
          || end - segmentStart == 2 && path.charAt(segmentStart + 1) == '.')) {
        return "path segment '" + path.substring(segmentStart, end) + "' is not allowed (no '.' or '..' segments)";
      }
      for (int i = segmentStart; i < end; i++) {
        char c = path.charAt(i);
        if (!isPathChar(c)) {
          String hint = c == '%' ? " (percent-encoding is not allowed)" : "";
          return "path segment '" + printable(path.substring(segmentStart, end)) + "' has character '"
              + printable(String.valueOf(c)) + "' which is not allowed" + hint
              + " (expected: letters, digits, '.', '-', '_')";
        }
      }
      if (next < 0) {
        break;
      }
      segmentStart = next + 1;
    }
    return null;
  }

  private static boolean isPathChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
        || c == '.' || c == '-' || c == '_';
  }

  private static MtlsException invalid(String id, String problem) {
    return new MtlsException(Reason.INVALID_SPIFFE_ID, "invalid SPIFFE ID '" + printable(id) + "': " + problem);
  }

  public TrustDomain trustDomain() {
    return trustDomain;
  }

  /** The path, e.g. {@code /ns/default/sa/web}; empty for a trust domain's own ID. */
  public String path() {
    return path;
  }

  /** The namespace of a {@code /ns/<ns>/sa/<sa>} identity. */
  public Optional<String> namespace() {
    String[] s = workloadSegments();
    return s == null ? Optional.empty() : Optional.of(s[2]);
  }

  /** The service account of a {@code /ns/<ns>/sa/<sa>} identity. */
  public Optional<String> serviceAccount() {
    String[] s = workloadSegments();
    return s == null ? Optional.empty() : Optional.of(s[4]);
  }

  private String[] workloadSegments() {
    String[] s = path.split("/", -1);
    return s.length == 5 && s[1].equals("ns") && s[3].equals("sa") ? s : null;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof SpiffeId other && string.equals(other.string);
  }

  @Override
  public int hashCode() {
    return string.hashCode();
  }

  @Override
  public int compareTo(SpiffeId o) {
    return string.compareTo(o.string);
  }

  /** The URI form, {@code spiffe://td/path}. */
  @Override
  public String toString() {
    return string;
  }
}
