package dev.trellis.proxy.outbound;

import java.nio.charset.StandardCharsets;

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
    String startLine = new String(head, 0, trimCr(head, 0, lineEnd), StandardCharsets.US_ASCII);
    String method = null;
    String target = null;
    int status = 0;
    int sp1 = startLine.indexOf(' ');
    int sp2 = sp1 < 0 ? -1 : startLine.indexOf(' ', sp1 + 1);
    if (request) {
      if (sp1 <= 0 || sp2 < 0 || !startLine.startsWith("HTTP/1.", sp2 + 1)) {
        return null;
      }
      method = startLine.substring(0, sp1);
      target = startLine.substring(sp1 + 1, sp2);
    } else {
      if (!startLine.startsWith("HTTP/1.") || sp1 < 0 || startLine.length() < sp1 + 4) {
        return null;
      }
      status = parseStatus(startLine, sp1 + 1);
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
      switch (colon - line) {
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

  private static int parseStatus(String line, int at) {
    int status = 0;
    for (int k = at; k < at + 3; k++) {
      char c = line.charAt(k);
      if (c < '0' || c > '9') {
        return -1;
      }
      status = status * 10 + (c - '0');
    }
    return line.length() == at + 3 || line.charAt(at + 3) == ' ' ? status : -1;
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
