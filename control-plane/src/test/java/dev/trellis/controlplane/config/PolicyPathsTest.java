package dev.trellis.controlplane.config;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** A policy path must be written as node proxies normalize request paths, or the rule could never match. */
class PolicyPathsTest {

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(delimiter = '|', nullValues = "-", textBlock = """
      /admin           | -
      /admin/*         | -
      /admin*          | -
      /*               | -
      /a/.*            | -
      /a/..*           | -
      /a.b/c..d        | -
      /%C3%A9          | -
      /a%20b           | -
      /a%7Cb           | -
      /a%40b           | -
      /%61dmin         | has %61, which the node proxy decodes before matching: write 'a'
      /a%2Eb           | has %2E, which the node proxy decodes before matching: write '.'
      /%c3%a9          | has %c3: escapes are matched in upper case, write %C3
      /a%2Fb           | has %2F, which the node proxy refuses in request paths (400)
      /a%5cb           | has %5c, which the node proxy refuses
      /a%3Bb           | has %3B, which the node proxy refuses
      /a%00            | has %00, which the node proxy refuses
      /a%zz            | has a malformed escape at offset 2
      /a%2             | has a malformed escape at offset 2
      /a;jsessionid=1  | has ';', which the node proxy refuses in request paths (400), so the rule never matches
      /a\\\\b          | has '\\', which the node proxy refuses
      /a?x=1           | has '?': policies match the path only
      /a#x             | has '#': policies match the path only
      '/a|b'           | has '|', which the node proxy percent-encodes: write %7C
      /a{b}            | has '{', which the node proxy percent-encodes: write %7B
      /a b             | has a space, control or non-ASCII character at offset 2
      /é               | has a space, control or non-ASCII character at offset 1
      /a/../admin      | has a dot segment ('..')
      /./admin         | has a dot segment ('.')
      /admin/.         | has a dot segment ('.')
      //admin          | has repeated slashes
      /admin//*        | has repeated slashes
      """)
  void policyPathsMustBeInTheFormRequestsAreMatchedIn(String path, String problem) {
    String p = path.translateEscapes();
    if (problem == null) {
      assertThat(PolicyPaths.problem(p)).isNull();
    } else {
      assertThat(PolicyPaths.problem(p)).startsWith(problem);
    }
  }
}
