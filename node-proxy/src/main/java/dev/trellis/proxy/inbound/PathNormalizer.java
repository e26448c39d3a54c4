package dev.trellis.proxy.inbound;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Locale;

/**
 * The path an authorization decision sees, which is also the path the workload receives, so the two
 * cannot disagree: dot segments removed (RFC 3986 5.2.4), repeated slashes merged. Paths a workload
 * might decode differently than we compare them are refused: escaped slashes, backslashes and dots
 * ({@code %2F}, {@code %5C}, {@code %2E}), a raw backslash, or anything not starting with {@code /}.
 */
public final class PathNormalizer {

  private PathNormalizer() {}

  /** The normalized path (query kept as is), or null when the path must be refused. */
  public static String normalize(String uri) {
    if (uri == null || !uri.startsWith("/")) {
      return null;
    }
    int q = uri.indexOf('?');
    String path = q < 0 ? uri : uri.substring(0, q);
    String query = q < 0 ? "" : uri.substring(q);
    String lower = path.toLowerCase(Locale.ROOT);
    if (lower.contains("%2f") || lower.contains("%5c") || lower.contains("%2e") || path.indexOf('\\') >= 0) {
      return null;
    }
    Deque<String> out = new ArrayDeque<>();
    String[] segments = path.split("/", -1);
    for (int i = 1; i < segments.length; i++) {
      String s = segments[i];
      boolean last = i == segments.length - 1;
      if (s.equals("..")) {
        out.pollLast();
        if (last) {
          out.add("");
        }
      } else if (s.equals(".")) {
        if (last) {
          out.add("");
        }
      } else if (s.isEmpty() && !last) {
        // merged slash
      } else {
        out.add(s);
      }
    }
    return "/" + String.join("/", out) + query;
  }
}
