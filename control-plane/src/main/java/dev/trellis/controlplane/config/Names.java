package dev.trellis.controlplane.config;

import java.net.InetAddress;
import java.util.regex.Pattern;

/** Syntax checks for names and addresses in the mesh file, with messages that say what is expected. */
final class Names {

  private static final Pattern DNS_NAME = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");

  private Names() {}

  /** A Kubernetes-style name (DNS-1123 label): lowercase letters, digits, '-'; at most 63 characters. */
  static String label(YamlValue v) {
    String s = v.string();
    if (s != null && !isLabel(s)) {
      v.problem("'" + s + "' is not a valid name (expected: lowercase letters, digits and '-', starting and ending "
          + "with a letter or digit, at most 63 characters)");
      return null;
    }
    return s;
  }

  /**
   * {@code [a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?} without a regular expression: a mesh file of 10,000 workloads checks
   * 30,000 names on every reload.
   */
  static boolean isLabel(String s) {
    int n = s.length();
    if (n == 0 || n > 63 || s.charAt(0) == '-' || s.charAt(n - 1) == '-') {
      return false;
    }
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      if (!(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-')) {
        return false;
      }
    }
    return true;
  }

  /** {@code \d{1,3}(\.\d{1,3}){3}} (ASCII digits) without a regular expression. */
  static boolean isDottedQuad(String s) {
    int groups = 0;
    int digits = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c >= '0' && c <= '9') {
        if (++digits > 3) {
          return false;
        }
      } else if (c == '.' && digits > 0 && groups < 3) {
        groups++;
        digits = 0;
      } else {
        return false;
      }
    }
    return groups == 3 && digits > 0;
  }

  static String dnsName(YamlValue v) {
    String s = v.string();
    if (s != null && (s.length() > 253 || !DNS_NAME.matcher(s).matches())) {
      v.problem("'" + s + "' is not a valid DNS name");
      return null;
    }
    return s;
  }

  /** An IPv4 or IPv6 literal (never a host name: nothing is looked up). */
  static String ip(YamlValue v) {
    String s = v.string();
    if (s == null) {
      return null;
    }
    boolean v4 = isDottedQuad(s);
    boolean v6 = s.contains(":") && s.matches("[0-9a-fA-F:.]+");
    if (!v4 && !v6) {
      v.problem("'" + s + "' is not an IP address (expected e.g. 10.96.0.10 or fd00::10)");
      return null;
    }
    try {
      return InetAddress.ofLiteral(s).getHostAddress();
    } catch (IllegalArgumentException e) {
      v.problem("'" + s + "' is not a valid IP address: " + e.getMessage());
      return null;
    }
  }
}
