package dev.trellis.controlplane.config;

import java.util.Locale;

/**
 * Whether an authorization policy's path can ever match. Node proxies match the normalized request path (decoded
 * unreserved escapes, other escapes in upper case, dot segments resolved, repeated slashes merged; escaped slashes,
 * control bytes and {@code ;} refused), so a policy path must be written in that form: {@code /%61dmin} or
 * {@code /a/../admin} in a DENY rule would silently never deny. Pure.
 */
final class PolicyPaths {

  /** Printable characters the proxy percent-encodes in a path. */
  private static final String ENCODED = "\"<>^`{|}[]";

  private PolicyPaths() {}

  /** Null when {@code path} (exact, or a prefix ending in '*') is in normalized form; else what to write instead. */
  static String problem(String path) {
    boolean prefix = path.endsWith("*");
    String p = prefix ? path.substring(0, path.length() - 1) : path;
    for (int i = 0; i < p.length(); i++) {
      char c = p.charAt(i);
      if (c <= 0x20 || c >= 0x7f) {
        return "has a space, control or non-ASCII character at offset " + i + " (percent-encode it, upper-case hex, "
            + "e.g. %C3%A9)";
      }
      if (c == '?' || c == '#') {
        return "has '" + c + "': policies match the path only, never the query or a fragment";
      }
      if (c == ';' || c == '\\') {
        return "has '" + c + "', which the node proxy refuses in request paths (400), so the rule never matches";
      }
      if (ENCODED.indexOf(c) >= 0) {
        return "has '" + c + "', which the node proxy percent-encodes: write %" + hex(c);
      }
      if (c == '%') {
        String problem = escape(p, i);
        if (problem != null) {
          return problem;
        }
        i += 2;
      }
    }
    String[] segments = p.split("/", -1);
    for (int i = 1; i < segments.length; i++) {
      boolean partial = prefix && i == segments.length - 1; // "/a/.*" also matches "/a/.well-known"
      String s = segments[i];
      if (!partial && (s.equals(".") || s.equals(".."))) {
        return "has a dot segment ('" + s + "'); requests are matched after dot segments are resolved, so write the "
            + "path without it";
      }
      if (s.isEmpty() && i < segments.length - 1) {
        return "has repeated slashes; requests are matched after they are merged, so write one '/'";
      }
    }
    return null;
  }

  private static String escape(String p, int i) {
    if (i + 2 >= p.length() || Character.digit(p.charAt(i + 1), 16) < 0 || Character.digit(p.charAt(i + 2), 16) < 0) {
      return "has a malformed escape at offset " + i + " (expected '%' and two hex digits)";
    }
    String hex = p.substring(i + 1, i + 3);
    int b = Integer.parseInt(hex, 16);
    if (b < 0x20 || b == 0x7f || b == '/' || b == '\\' || b == ';') {
      return "has %" + hex + ", which the node proxy refuses in request paths (400), so the rule never matches";
    }
    if (b < 0x80 && (Character.isLetterOrDigit(b) || "-._~".indexOf(b) >= 0)) {
      return "has %" + hex + ", which the node proxy decodes before matching: write '" + (char) b + "'";
    }
    if (!hex.equals(hex.toUpperCase(Locale.ROOT))) {
      return "has %" + hex + ": escapes are matched in upper case, write %" + hex.toUpperCase(Locale.ROOT);
    }
    return null;
  }

  private static String hex(char c) {
    return String.format("%02X", (int) c);
  }
}
