package dev.trellis.proxy.http;

/**
 * The request method as routing and authorization see it, which is also the method the request goes on with. The
 * mesh matches methods case-insensitively (policies' methods are upper-cased when the config is built), so a
 * request's method is upper-cased here, once, before anything reads it: {@code delete} and {@code DeLeTe} are
 * {@code DELETE} to a DENY rule and to the workload alike. HTTP methods are case-sensitive on the wire (RFC 9110
 * §9.1), but no registered method has lower-case letters, so nothing legitimate changes. Pure.
 */
public final class MethodNormalizer {

  private MethodNormalizer() {}

  /** The method upper-cased (ASCII only), or null when it is not an HTTP token (RFC 9110 §5.6.2). */
  public static String normalize(String method) {
    if (method == null || method.isEmpty()) {
      return null;
    }
    boolean lower = false;
    for (int i = 0; i < method.length(); i++) {
      char c = method.charAt(i);
      if (!isTokenChar(c)) {
        return null;
      }
      lower |= c >= 'a' && c <= 'z';
    }
    if (!lower) {
      return method;
    }
    char[] upper = method.toCharArray();
    for (int i = 0; i < upper.length; i++) {
      if (upper[i] >= 'a' && upper[i] <= 'z') {
        upper[i] -= 'a' - 'A';
      }
    }
    return new String(upper);
  }

  private static boolean isTokenChar(char c) {
    return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
  }
}
