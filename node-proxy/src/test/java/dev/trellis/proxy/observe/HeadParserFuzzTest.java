package dev.trellis.proxy.observe;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Fuzzes the HTTP/1.x head parser with any bytes, read as a request head and as a response head. It returns null or a
 * head whose fields hold what the contract says (a method and target for requests, a three-digit status for
 * responses, a content length of -1 or more, a traceparent index that points at the traceparent's value in the
 * buffer), and it reads only the {@code length} bytes it is given: bytes after them in the array change nothing.
 */
class HeadParserFuzzTest {

  private static final int OFFSET = 100;

  @FuzzTest
  void head(byte[] input) {
    byte[] padded = Arrays.copyOf(input, input.length + 64);
    Arrays.fill(padded, input.length, padded.length, (byte) '\n'); // what a read past the end would take as the end
    for (boolean request : new boolean[] {true, false}) {
      Http1Scanner.Head head = HeadParser.parse(input, input.length, request, OFFSET);
      assertThat(HeadParser.parse(padded, input.length, request, OFFSET)).isEqualTo(head);
      if (head == null) {
        continue;
      }
      if (request) {
        assertThat(head.method()).isNotEmpty().doesNotContain(" ");
        assertThat(head.target()).isNotNull().doesNotContain(" ");
        assertThat(head.status()).isZero();
      } else {
        assertThat(head.method()).isNull();
        assertThat(head.status()).isBetween(0, 999);
      }
      assertThat(head.contentLength()).isGreaterThanOrEqualTo(-1);
      if (head.traceparentIndex() >= 0) {
        int at = head.traceparentIndex() - OFFSET;
        assertThat(at).isBetween(0, input.length - head.traceparent().length());
        assertThat(new String(input, at, head.traceparent().length(), StandardCharsets.ISO_8859_1))
            .isEqualTo(head.traceparent());
      }
      assertThat(HeadParser.parse(input, input.length, request, -1)).extracting(Http1Scanner.Head::traceparentIndex)
          .isEqualTo(-1);
    }
  }
}
