package dev.trellis.proxy.observe;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Reads an HTTP/1.x message head for {@link Http1Scanner}: the start line and only the header fields telemetry and
 * framing need, compared in place (no string per header). Returns null for a head that is not well-formed enough to
 * frame the message after it: no start line, a field line without a colon, a Content-Length that is not one number.
 */
final class HeadParser {

  private static final byte[] HOST = bytes("host");
  private static final byte[] CONTENT_TYPE = bytes("content-type");
  private static final byte[] CONTENT_LENGTH = bytes("content-length");
  private static final byte[] TRANSFER_ENCODING = bytes("transfer-encoding");
  private static final byte[] TRACEPARENT = bytes("traceparent");
  private static final byte[] TRACESTATE = bytes("tracestate");
  private static final byte[] BAGGAGE = bytes("baggage");
  private static final byte[] HTTP_1 = bytes("HTTP/1.");
  private static final List<String> COMMON_METHODS = List.of("GET", "POST", "PUT", "DELETE",
      "HEAD", "PATCH", "OPTIONS");

  private HeadParser() {}

  /**
   * @param head the head's bytes from index 0, {@code length} of them up to and including its blank line
   * @param bufferOffset where the head starts in the buffer the relay forwards, or -1 if it is not all there (then
   *     no traceparent index is reported)
   */
  static Http1Scanner.Head parse(byte[] head, int length, boolean request, int bufferOffset) {
    int lineEnd = indexOf(head, 0, length, (byte) '\n');
    if (lineEnd < 0) {
      return null;
    }
    int lineLength = trimCr(head, 0, lineEnd);
    String method = null;
    String target = null;
    int status = 0;
    int sp1 = indexOf(head, 0, lineLength, (byte) ' ');
    int sp2 = sp1 < 0 ? -1 : indexOf(head, sp1 + 1, lineLength, (byte) ' ');
    if (request) {
      if (sp1 <= 0 || sp2 < 0 || !startsWith(head, sp2 + 1, lineLength, HTTP_1)) {
        return null;
      }
      method = method(head, sp1);
      target = new String(head, sp1 + 1, sp2 - sp1 - 1, StandardCharsets.ISO_8859_1);
    } else {
      if (!startsWith(head, 0, lineLength, HTTP_1) || sp1 < 0) {
        return null;
      }
      status = parseStatus(head, sp1 + 1, lineLength);
      if (status < 0) {
        return null;
      }
    }
    String host = null;
    String contentType = null;
    String traceparent = null;
    String tracestate = null;
    String baggage = null;
    String transferEncoding = null;
    long contentLength = -1;
    int traceparentIndex = -1;
    int line = lineEnd + 1;
    while (line < length) {
      int lf = indexOf(head, line, length, (byte) '\n');
      int end = trimCr(head, line, lf < 0 ? length : lf);
      if (end == line) {
        break; // the blank line
      }
      int colon = indexOf(head, line, end, (byte) ':');
      if (colon <= line) {
        return null;
      }
      int v = colon + 1;
      while (v < end && (head[v] == ' ' || head[v] == '\t')) {
        v++;
      }
      int ve = end;
      while (ve > v && (head[ve - 1] == ' ' || head[ve - 1] == '\t')) {
        ve--;
      }
      switch (request ? colon - line : colon - line == 14 || colon - line == 17 ? colon - line : 0) {
        case 4 -> host = is(head, line, HOST) ? value(head, v, ve) : host;
        case 7 -> baggage = is(head, line, BAGGAGE) ? join(baggage, value(head, v, ve)) : baggage;
        case 10 -> tracestate = is(head, line, TRACESTATE) ? join(tracestate, value(head, v, ve)) : tracestate;
        case 11 -> {
          if (is(head, line, TRACEPARENT)) {
            traceparent = value(head, v, ve);
            traceparentIndex = bufferOffset < 0 ? -1 : bufferOffset + v;
          }
        }
        case 12 -> contentType = is(head, line, CONTENT_TYPE) ? value(head, v, ve) : contentType;
        case 14 -> {
          if (is(head, line, CONTENT_LENGTH)) {
            long n = parseLength(head, v, ve);
            if (n < 0 || contentLength >= 0 && contentLength != n) {
              return null; // not a number, or two different lengths: the body cannot be framed
            }
            contentLength = n;
          }
        }
        case 17 -> transferEncoding = is(head, line, TRANSFER_ENCODING)
            ? join(transferEncoding, value(head, v, ve)) : transferEncoding;
        default -> { }
      }
      if (lf < 0) {
        break;
      }
      line = lf + 1;
    }
    return new Http1Scanner.Head(method, target, status, host, contentType, traceparent, tracestate, baggage,
        contentLength, transferEncoding, traceparentIndex);
  }

  private static int indexOf(byte[] b, int from, int to, byte value) {
    for (int k = from; k < to; k++) {
      if (b[k] == value) {
        return k;
      }
    }
    return -1;
  }

  private static int trimCr(byte[] b, int from, int lf) {
    return lf > from && b[lf - 1] == '\r' ? lf - 1 : lf;
  }

  private static boolean is(byte[] b, int at, byte[] lowerName) {
    for (int k = 0; k < lowerName.length; k++) {
      int c = b[at + k];
      if (c >= 'A' && c <= 'Z') {
        c += 'a' - 'A';
      }
      if (c != lowerName[k]) {
        return false;
      }
    }
    return true;
  }

  private static String value(byte[] b, int from, int to) {
    return new String(b, from, to - from, StandardCharsets.ISO_8859_1);
  }

  private static String join(String earlier, String more) {
    return earlier == null ? more : earlier + "," + more;
  }

  /** The three status digits at {@code at}, followed by a space or the end of the line; -1 if not. */
  private static int parseStatus(byte[] b, int at, int lineLength) {
    if (lineLength < at + 3) {
      return -1;
    }
    int status = 0;
    for (int k = at; k < at + 3; k++) {
      if (b[k] < '0' || b[k] > '9') {
        return -1;
      }
      status = status * 10 + (b[k] - '0');
    }
    return lineLength == at + 3 || b[at + 3] == ' ' ? status : -1;
  }

  /** The method token, as a shared constant for the common ones. */
  private static String method(byte[] b, int length) {
    for (String m : COMMON_METHODS) {
      if (m.length() == length && sameAscii(b, m)) {
        return m;
      }
    }
    return new String(b, 0, length, StandardCharsets.US_ASCII);
  }

  private static boolean sameAscii(byte[] b, String s) {
    for (int k = 0; k < s.length(); k++) {
      if (b[k] != s.charAt(k)) {
        return false;
      }
    }
    return true;
  }

  private static boolean startsWith(byte[] b, int at, int limit, byte[] prefix) {
    if (limit - at < prefix.length) {
      return false;
    }
    for (int k = 0; k < prefix.length; k++) {
      if (b[at + k] != prefix[k]) {
        return false;
      }
    }
    return true;
  }

  private static long parseLength(byte[] b, int from, int to) {
    if (to <= from || to - from > 18) {
      return -1;
    }
    long n = 0;
    for (int k = from; k < to; k++) {
      if (b[k] < '0' || b[k] > '9') {
        return -1;
      }
      n = n * 10 + (b[k] - '0');
    }
    return n;
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }
}
