package dev.trellis.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.proxy.state.PathNormalization;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;

/**
 * Properties of {@link PathNormalizer} over request targets built from the pieces attacks are made of (escapes of
 * dots, slashes, backslashes, semicolons, control bytes, overlong UTF-8; dot segments; repeated slashes; queries and
 * fragments): normalizing is idempotent, its output has one spelling, and it keeps the meaning a workload that decodes
 * once would give the path.
 */
public class PathNormalizerProperties {

  static final List<String> PIECES = List.of("/", "/", "/", "//", ".", "..", "./", "../", "%", "%2e", "%2E", "%2f",
      "%2F", "%5c", "%5C", "%3b", "%3B", "%00", "%0a", "%0D", "%09", "%7f", "%20", "%61", "%41", "%7e", "%25", "%252f",
      "%c0%af", "%c0%ae", "%e0%80%af", "%c3%a9", "%C3", "%e2%82%ac", "%f0%9f%98%80", "%ed%a0%80", "%ff", "%zz", "%4",
      ";", ";x=1", "\\", "?", "?q=/../%2f", "#", "a", "admin", "public", "A", "x", "-", "_", "~", "|", "{", "}", "\"",
      "@", ":", "=", "&", "+", "!", "$", "'", "(", "*", ",", "\t", " ", "\u00e9", "\n");

  /** Mostly origin-form targets; sometimes anything. */
  @Provide
  public static Arbitrary<String> targets() {
    Arbitrary<String> pieces = Arbitraries.of(PIECES).list().ofMinSize(0).ofMaxSize(14).map(l -> String.join("", l));
    return Arbitraries.frequencyOf(Tuple.of(9, pieces.map(s -> "/" + s)), Tuple.of(1, pieces));
  }

  @Provide
  public static Arbitrary<PathNormalization> options() {
    return Arbitraries.of(PathNormalization.EscapedSlashes.class).flatMap(e ->
        Arbitraries.of(PathNormalization.PathParameters.class).map(p -> new PathNormalization(e, p)));
  }

  @Property(tries = 3000)
  void normalizingIsIdempotent(@ForAll("targets") String target, @ForAll("options") PathNormalization options) {
    if (PathNormalizer.normalize(target, options) instanceof PathNormalizer.Normalized n) {
      assertThat(PathNormalizer.normalize(n.uri(), options)).isEqualTo(n);
      assertThat(PathNormalizer.normalize(n.uri(), PathNormalization.DEFAULTS))
          .as("a normalized path passes even the strictest options unchanged").isEqualTo(n);
    }
  }

  @Property(tries = 3000)
  void theNormalizedPathHasOneSpelling(@ForAll("targets") String target, @ForAll("options") PathNormalization options) {
    if (PathNormalizer.normalize(target, options) instanceof PathNormalizer.Normalized n) {
      assertOneSpelling(target, n);
    }
  }

  /**
   * What a workload that percent-decodes once makes of the normalized path is what it would make of the original one,
   * dot segments and repeated slashes aside: normalization decides nothing a workload would decide differently.
   */
  @Property(tries = 3000)
  void aWorkloadThatDecodesOnceReadsTheSamePath(@ForAll("targets") String target) {
    if (PathNormalizer.normalize(target, PathNormalization.DEFAULTS) instanceof PathNormalizer.Normalized n) {
      assertDecodedAlike(target, n);
    }
  }

  /** The normalized path is in its one spelling, and the query is the one sent. */
  static void assertOneSpelling(String target, PathNormalizer.Normalized n) {
    String p = n.path();
    assertThat(p).startsWith("/").doesNotContain("//", "\\", ";", "?", "#");
    assertThat(("/" + p + "/").replace("/", "//")).doesNotContain("/./", "/../");
    assertThat(p.chars()).allMatch(c -> c > 0x20 && c < 0x7f && "\"<>^`{|}[]".indexOf(c) < 0);
    for (int i = p.indexOf('%'); i >= 0; i = p.indexOf('%', i + 1)) {
      String escape = p.substring(i + 1, i + 3);
      assertThat(escape).matches("[0-9A-F]{2}");
      int b = Integer.parseInt(escape, 16);
      assertThat(b).as("only bytes that must stay escaped do").isNotIn(0x2F, 0x5C, 0x3B).isGreaterThanOrEqualTo(0x20)
          .isNotEqualTo(0x7F);
      assertThat(Character.isLetterOrDigit(b) && b < 0x80 || "-._~".indexOf(b) >= 0).isFalse();
    }
    assertThat(target).endsWith(n.query());
    assertThat(n.query()).isEqualTo(target.indexOf('?') < 0 ? "" : target.substring(target.indexOf('?')));
  }

  /** A workload that decodes {@code target}'s path once reads the segments of {@code n}'s path, resolved. */
  static void assertDecodedAlike(String target, PathNormalizer.Normalized n) {
    String original = target.indexOf('?') < 0 ? target : target.substring(0, target.indexOf('?'));
    assertThat(segments(decodeOnce(n.path()))).isEqualTo(resolve(segments(decodeOnce(original))));
  }

  @Property(tries = 1000)
  void whatIsRefusedIsRefusedForAReasonThatQuotesItSafely(@ForAll("targets") String target) {
    if (PathNormalizer.normalize(target, PathNormalization.DEFAULTS) instanceof PathNormalizer.Refused r) {
      assertThat(r.reason()).doesNotContain("\n", "\r", "\t").matches("path '.*|the request has no path");
    }
  }

  /** Percent-decodes every escape (the reference reading of a path). */
  static byte[] decodeOnce(String path) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (int i = 0; i < path.length(); i++) {
      char c = path.charAt(i);
      if (c == '%') {
        out.write(Integer.parseInt(path.substring(i + 1, i + 3), 16));
        i += 2;
      } else {
        out.write(c);
      }
    }
    return out.toByteArray();
  }

  /** Splits decoded bytes at '/' into segments (text as ISO-8859-1, one char per byte). */
  static List<String> segments(byte[] decoded) {
    String s = new String(decoded, java.nio.charset.StandardCharsets.ISO_8859_1);
    List<String> out = new ArrayList<>(List.of(s.split("/", -1)));
    out.removeFirst();
    return out;
  }

  /** RFC 3986 5.2.4 on segments, with empty segments merged (a trailing one kept as the trailing slash). */
  static List<String> resolve(List<String> in) {
    List<String> out = new ArrayList<>();
    boolean trailing = false;
    for (int i = 0; i < in.size(); i++) {
      String s = in.get(i);
      boolean last = i == in.size() - 1;
      if (s.equals("..") && !out.isEmpty()) {
        out.removeLast();
      }
      if (s.isEmpty() || s.equals(".") || s.equals("..")) {
        trailing = last;
      } else {
        out.add(s);
        trailing = false;
      }
    }
    if (trailing || out.isEmpty()) {
      out.add("");
    }
    return out;
  }
}
