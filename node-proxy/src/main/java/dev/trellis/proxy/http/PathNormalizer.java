package dev.trellis.proxy.http;

import dev.trellis.proxy.state.PathNormalization;
import java.util.ArrayList;
import java.util.List;

/**
 * The one path normalizer of the HTTP engine, applied once to every request before anything reads its path: by the
 * source before route matching and by the destination before authorization; the request then goes on with the
 * normalized path, so the workload receives exactly the path that was matched. Pure. Modelled on Envoy's
 * {@code normalize_path}, {@code merge_slashes} and {@code path_with_escaped_slashes_action}:
 *
 * <ol>
 *   <li>The request target must be origin-form ({@code /path[?query]}) in printable ASCII: absolute-form,
 *       authority-form, {@code *}, control characters, spaces, raw non-ASCII bytes and {@code #} are refused.
 *   <li>{@code ?} ends the path; the query is kept exactly as sent.
 *   <li>Path parameters ({@code ;}) are refused, or with {@link PathNormalization.PathParameters#STRIP} cut from
 *       each segment ({@code /a;x/b} → {@code /a/b}).
 *   <li>Percent-encoded unreserved characters are decoded (RFC 3986 §2.3, §6.2.2.2: {@code %61} → {@code a},
 *       {@code %2E} → {@code .}); every other escape stays, in upper-case hex. Refused: malformed escapes, encoded
 *       control characters ({@code %00}–{@code %1F}, {@code %7F}), an encoded {@code ;}, escaped bytes that are not
 *       valid shortest-form UTF-8 ({@code %C0%AF}), a raw backslash, and escaped slashes ({@code %2F}, {@code %5C})
 *       unless {@link PathNormalization.EscapedSlashes#UNESCAPE_AND_FORWARD} turns them into {@code /}.
 *   <li>Printable characters a path may not hold raw ({@code " < > ^ ` { | } [ ]}) are percent-encoded.
 *   <li>Dot segments are resolved (RFC 3986 §5.2.4), including those that appear only after decoding, and repeated
 *       slashes are merged. A trailing slash is kept; paths stay case-sensitive.
 * </ol>
 *
 * <p>The result is idempotent: normalizing a normalized path gives it back unchanged.
 */
public final class PathNormalizer {

  private static final char[] HEX = "0123456789ABCDEF".toCharArray();
  private static final int SHOWN = 120;
  /** Printable characters RFC 3986 does not allow raw in a path; they are percent-encoded (as browsers do). */
  private static final String UNSAFE = "\"<>^`{|}[]";

  private PathNormalizer() {}

  /** What became of a request target. */
  public sealed interface Result {}

  /**
   * @param path the normalized path, starting with {@code /}
   * @param query the query as sent, with its {@code ?}, or "" when there is none
   */
  public record Normalized(String path, String query) implements Result {
    /** The request target to forward: the normalized path and the query unchanged. */
    public String uri() {
      return query.isEmpty() ? path : path + query;
    }
  }

  /** The request cannot be normalized safely: answer 400; {@code reason} names what and why. */
  public record Refused(String reason) implements Result {}

  /** Normalizes {@code target} with the default options; the normalized target, or null when it is refused. */
  public static String normalize(String target) {
    return normalize(target, PathNormalization.DEFAULTS) instanceof Normalized n ? n.uri() : null;
  }

  public static Result normalize(String target, PathNormalization options) {
    if (target == null || target.isEmpty()) {
      return new Refused("the request has no path");
    }
    if (target.charAt(0) != '/') {
      return refused(target, "is not an origin-form path (it must start with '/'; absolute-form, authority-form and "
          + "'*' are not accepted)");
    }
    int q = -1;
    boolean plain = true; // no escape, parameter, backslash, repeated slash or dot segment: the path stays as it is
    for (int i = 0; i < target.length(); i++) {
      char c = target.charAt(i);
      if (c <= 0x20 || c == 0x7f) {
        return refused(target, "has a control character or space (0x%02X) at offset %d".formatted((int) c, i));
      }
      if (c > 0x7e) {
        return refused(target, "has a raw non-ASCII character at offset " + i + " (percent-encode it as UTF-8)");
      }
      if (c == '#') {
        return refused(target, "has a fragment ('#' at offset " + i + "), which a request never carries");
      }
      if (q < 0) {
        if (c == '?') {
          q = i;
        } else if (c == '%' || c == ';' || c == '\\' || UNSAFE.indexOf(c) >= 0
            || c == '/' && i + 1 < target.length() && (target.charAt(i + 1) == '/' || target.charAt(i + 1) == '.')) {
          plain = false;
        }
      }
    }
    String path = q < 0 ? target : target.substring(0, q);
    String query = q < 0 ? "" : target.substring(q);
    if (plain) {
      return new Normalized(path, query);
    }
    if (path.indexOf(';') >= 0) {
      if (options.pathParameters() == PathNormalization.PathParameters.REJECT) {
        return refused(target, "has a path parameter (';' at offset " + path.indexOf(';') + "); workloads disagree on "
            + "what it means, so it is refused (the mesh's http.pathParameters: STRIP removes them instead)");
      }
      path = stripParameters(path);
    }
    StringBuilder decoded = new StringBuilder(path.length());
    for (int i = 0; i < path.length(); ) {
      char c = path.charAt(i);
      if (c == '\\') {
        return refused(target, "has a backslash at offset " + i + ", which workloads may read as '/'");
      }
      if (UNSAFE.indexOf(c) >= 0) {
        appendEscape(decoded, c);
        i++;
        continue;
      }
      if (c != '%') {
        decoded.append(c);
        i++;
        continue;
      }
      int b = escaped(path, i);
      if (b < 0) {
        return refused(target, "has a malformed percent-encoding at offset " + i + " (expected '%' and two hex digits)");
      }
      if (b < 0x20 || b == 0x7f) {
        return refused(target, "has an encoded control character (%%%02X) at offset %d".formatted(b, i));
      }
      if (b == '/' || b == '\\') {
        if (options.escapedSlashes() == PathNormalization.EscapedSlashes.REJECT_REQUEST) {
          return refused(target, "has an escaped " + (b == '/' ? "slash (%2F)" : "backslash (%5C)") + " at offset " + i
              + "; workloads disagree on whether it separates segments, so it is refused (the mesh's "
              + "http.escapedSlashes: UNESCAPE_AND_FORWARD decodes it to '/' instead)");
        }
        decoded.append('/');
        i += 3;
        continue;
      }
      if (b == ';') {
        return refused(target, "has an encoded semicolon (%3B) at offset " + i + ", which some workloads decode into a "
            + "path parameter");
      }
      if (isUnreserved(b)) {
        decoded.append((char) b);
        i += 3;
        continue;
      }
      if (b >= 0x80) {
        int n = utf8Sequence(path, i, b);
        if (n < 0) {
          return refused(target, "has escaped bytes at offset " + i + " that are not valid UTF-8 (invalid, overlong "
              + "or a surrogate)");
        }
        for (int k = 0; k < n; k++) {
          appendEscape(decoded, escaped(path, i + 3 * k));
        }
        i += 3 * n;
        continue;
      }
      appendEscape(decoded, b); // reserved and other characters keep their escape: decoding would change the meaning
      i += 3;
    }
    return new Normalized(removeDotSegments(decoded), query);
  }

  /** Cuts {@code ;...} from each segment of a path that starts with '/'. */
  private static String stripParameters(String path) {
    StringBuilder b = new StringBuilder(path.length());
    int i = 0;
    while (i < path.length()) {
      int semi = path.indexOf(';', i);
      if (semi < 0) {
        b.append(path, i, path.length());
        break;
      }
      b.append(path, i, semi);
      int slash = path.indexOf('/', semi);
      if (slash < 0) {
        break;
      }
      i = slash;
    }
    return b.toString();
  }

  /** Resolves {@code .} and {@code ..}, merges repeated slashes; keeps a trailing slash. */
  private static String removeDotSegments(CharSequence path) {
    List<String> out = new ArrayList<>();
    boolean trailing = false;
    int start = 1;
    int length = path.length();
    while (start <= length) {
      int end = start;
      while (end < length && path.charAt(end) != '/') {
        end++;
      }
      boolean last = end >= length;
      String s = path.subSequence(start, end).toString();
      switch (s) {
        case "", "." -> trailing = last;
        case ".." -> {
          if (!out.isEmpty()) {
            out.removeLast();
          }
          trailing = last;
        }
        default -> {
          out.add(s);
          trailing = false;
        }
      }
      start = end + 1;
    }
    if (out.isEmpty()) {
      return "/";
    }
    StringBuilder b = new StringBuilder(length);
    for (String s : out) {
      b.append('/').append(s);
    }
    if (trailing) {
      b.append('/');
    }
    return b.toString();
  }

  /** The byte escaped at {@code i} ('%' there), or -1 when it is not '%' and two hex digits. */
  private static int escaped(String s, int i) {
    if (i + 2 >= s.length() || s.charAt(i) != '%') {
      return -1;
    }
    int hi = Character.digit(s.charAt(i + 1), 16);
    int lo = Character.digit(s.charAt(i + 2), 16);
    return hi < 0 || lo < 0 ? -1 : hi << 4 | lo;
  }

  /**
   * How many escapes from {@code i} (whose byte is {@code lead}, >= 0x80) form one shortest-form UTF-8 scalar value,
   * or -1 when they do not.
   */
  private static int utf8Sequence(String s, int i, int lead) {
    int n;
    int min = 0x80;
    int max = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      n = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      n = 3;
      min = lead == 0xE0 ? 0xA0 : 0x80; // E0 80..9F would be overlong
      max = lead == 0xED ? 0x9F : 0xBF; // ED A0..BF would be a surrogate
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      n = 4;
      min = lead == 0xF0 ? 0x90 : 0x80; // F0 80..8F would be overlong
      max = lead == 0xF4 ? 0x8F : 0xBF; // F4 90.. would be above U+10FFFF
    } else {
      return -1; // a continuation byte first, C0/C1 (always overlong), or F5..FF
    }
    for (int k = 1; k < n; k++) {
      int b = escaped(s, i + 3 * k);
      if (b < (k == 1 ? min : 0x80) || b > (k == 1 ? max : 0xBF)) {
        return -1;
      }
    }
    return n;
  }

  private static boolean isUnreserved(int b) {
    return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '.' || b == '_'
        || b == '~';
  }

  private static void appendEscape(StringBuilder b, int value) {
    b.append('%').append(HEX[value >> 4]).append(HEX[value & 0xf]);
  }

  private static Refused refused(String target, String why) {
    return new Refused("path '" + show(target) + "' " + why);
  }

  /** The target as it may appear in a reply or a log: printable ASCII, the rest as \xNN, at most {@value #SHOWN} chars. */
  public static String show(String target) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < target.length() && b.length() < SHOWN; i++) {
      char c = target.charAt(i);
      if (c > 0x20 && c < 0x7f && c != '\\' && c != '\'') {
        b.append(c);
      } else {
        b.append(c > 0xff ? "\\u%04X".formatted((int) c) : "\\x%02X".formatted((int) c));
      }
    }
    return target.length() > SHOWN && b.length() >= SHOWN ? b + "..." : b.toString();
  }
}
