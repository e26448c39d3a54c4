package dev.trellis.mtls.identity;

import dev.trellis.mtls.MtlsException;
import dev.trellis.mtls.MtlsException.Reason;

/**
 * A SPIFFE trust domain name, e.g. {@code cluster.local}: 1 to 255 characters out of lowercase
 * letters, digits, {@code .}, {@code -} and {@code _} (SPIFFE ID spec, section 2.1).
 */
public record TrustDomain(String name) implements Comparable<TrustDomain> {

  /** Trellis's default trust domain, as Kubernetes' default cluster domain. */
  public static final TrustDomain CLUSTER_LOCAL = new TrustDomain("cluster.local");

  static final int MAX_LENGTH = 255;

  public TrustDomain {
    String problem = problemWith(name);
    if (problem != null) {
      throw new MtlsException(
          Reason.INVALID_SPIFFE_ID, "trust domain '" + printable(name) + "': " + problem);
    }
  }

  /** Parses and validates a trust domain name; same as the constructor, for symmetry with {@link SpiffeId#parse}. */
  public static TrustDomain of(String name) {
    return new TrustDomain(name);
  }

  /** The SPIFFE ID of the trust domain itself, {@code spiffe://<name>}. */
  public String idString() {
    return SpiffeId.SCHEME_PREFIX + name;
  }

  /** Returns why {@code name} is not a valid trust domain name, or null if it is. */
  static String problemWith(String name) {
    if (name == null || name.isEmpty()) {
      return "is empty (expected: a name such as 'cluster.local')";
    }
    if (name.length() > MAX_LENGTH) {
      return "is " + name.length() + " characters long (expected: at most " + MAX_LENGTH + ")";
    }
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (!isTrustDomainChar(c)) {
        String hint = c >= 'A' && c <= 'Z' ? " (trust domains are lowercase)" : "";
        if (c == ':') {
          hint = " (a port is not allowed)";
        } else if (c == '@') {
          hint = " (userinfo is not allowed)";
        }
        return "character '" + printable(String.valueOf(c)) + "' at index " + i + " is not allowed" + hint
            + " (expected: lowercase letters, digits, '.', '-', '_')";
      }
    }
    return null;
  }

  static boolean isTrustDomainChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
  }

  /** Caps and escapes untrusted text for error messages: it may be long or contain control characters. */
  static String printable(String s) {
    if (s == null) {
      return "null";
    }
    StringBuilder b = new StringBuilder(Math.min(s.length(), 100));
    for (int i = 0; i < s.length() && i < 96; i++) {
      char c = s.charAt(i);
      if (c < 0x20 || c == 0x7f) {
        b.append(String.format("\\x%02x", (int) c));
      } else {
        b.append(c);
      }
    }
    if (s.length() > 96) {
      b.append("...");
    }
    return b.toString();
  }

  @Override
  public int compareTo(TrustDomain o) {
    return name.compareTo(o.name);
  }

  @Override
  public String toString() {
    return name;
  }
}
