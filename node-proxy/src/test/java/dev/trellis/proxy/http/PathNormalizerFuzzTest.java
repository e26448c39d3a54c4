package dev.trellis.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.trellis.proxy.state.PathNormalization;
import java.nio.charset.StandardCharsets;

/**
 * Fuzzes the request target every HTTP request through the mesh carries, which the caller chooses byte by byte and
 * which authorization then matches (section 1 of docs/security.md). The first input byte picks the mesh's options
 * (bit 0: escaped slashes decoded, bit 1: path parameters stripped); the rest is the target, one char per byte, so
 * raw non-ASCII and control bytes are reached too. For any target: no exception; a refusal whose reason is one line;
 * or a path in its one spelling (no dot segment, no repeated slash, escapes only where decoding would change the
 * meaning, the query as sent) that normalizes to itself under the same and under the strictest options, and that a
 * workload decoding once reads as the original, resolved.
 */
class PathNormalizerFuzzTest {

  @FuzzTest
  void path(byte[] input) {
    if (input.length == 0) {
      return;
    }
    PathNormalization options = new PathNormalization(
        (input[0] & 1) == 0 ? PathNormalization.EscapedSlashes.REJECT_REQUEST
            : PathNormalization.EscapedSlashes.UNESCAPE_AND_FORWARD,
        (input[0] & 2) == 0 ? PathNormalization.PathParameters.REJECT : PathNormalization.PathParameters.STRIP);
    String target = new String(input, 1, input.length - 1, StandardCharsets.ISO_8859_1);

    PathNormalizer.Result result = PathNormalizer.normalize(target, options);
    switch (result) {
      case PathNormalizer.Refused r -> {
        assertThat(r.reason()).doesNotContain("\n", "\r").matches("path '.*|the request has no path");
        assertThat(PathNormalizer.normalize(target)).isNull();
      }
      case PathNormalizer.Normalized n -> {
        PathNormalizerProperties.assertOneSpelling(target, n);
        assertThat(PathNormalizer.normalize(n.uri(), options)).isEqualTo(n);
        assertThat(PathNormalizer.normalize(n.uri(), PathNormalization.DEFAULTS))
            .as("a normalized path passes even the strictest options unchanged").isEqualTo(n);
        if (options.equals(PathNormalization.DEFAULTS)) {
          PathNormalizerProperties.assertDecodedAlike(target, n);
          assertThat(PathNormalizer.normalize(target)).isEqualTo(n.uri());
        }
      }
    }
  }
}
