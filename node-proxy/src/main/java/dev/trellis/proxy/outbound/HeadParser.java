package dev.trellis.proxy.outbound;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;

/**
 * Reads an HTTP/1.x message head out of a byte range for {@link Http1Scanner}: the start line and only the header
 * fields telemetry and framing need, compared in place (no string per header). Returns null for a head that is not
 * well-formed enough to frame the message after it: no start line, a field line without a colon, a Content-Length
 * that is not one number.
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
   * @param from the head's first byte; {@code to} just after its blank line
   * @param inPlace whether {@code buf} is the buffer the relay forwards (then the traceparent's index is reported)
   */
  static Http1Scanner.Head parse(ByteBuf buf, int from, int to, boolean request, boolean inPlace) {
    int lineEnd = buf.indexOf(from, to, (byte) '\n');
    if (lineEnd < 0) {
      return null;
    }
    String startLine = buf.toString(from, trimCr(buf, from, lineEnd) - from, StandardCharsets.US_ASCII);
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
    while (line < to) {
      int lf = buf.indexOf(line, to, (byte) '\n');
      int end = trimCr(buf, line, lf);
      if (end == line) {
        break; // the blank line
      }
      int colon = buf.indexOf(line, end, (byte) ':');
      if (colon <= line) {
        return null;
      }
      int nameLength = colon - line;
      int v = colon + 1;
      while (v < end && (buf.getByte(v) == ' ' || buf.getByte(v) == '\t')) {
        v++;
      }
      int ve = end;
      while (ve > v && (buf.getByte(ve - 1) == ' ' || buf.getByte(ve - 1) == '\t')) {
        ve--;
      }
      switch (nameLength) {
        case 4 -> host = is(buf, line, HOST) ? value(buf, v, ve) : host;
        case 7 -> baggage = is(buf, line, BAGGAGE) ? join(baggage, value(buf, v, ve)) : baggage;
        case 10 -> tracestate = is(buf, line, TRACESTATE) ? join(tracestate, value(buf, v, ve)) : tracestate;
        case 11 -> {
          if (is(buf, line, TRACEPARENT)) {
            traceparent = value(buf, v, ve);
            traceparentIndex = inPlace ? v : -1;
          }
        }
        case 12 -> contentType = is(buf, line, CONTENT_TYPE) ? value(buf, v, ve) : contentType;
        case 14 -> {
          if (is(buf, line, CONTENT_LENGTH)) {
            long n = parseLength(value(buf, v, ve));
            if (n < 0 || contentLength >= 0 && contentLength != n) {
              return null; // not a number, or two different lengths: the body cannot be framed
            }
            contentLength = n;
          }
        }
        case 17 -> transferEncoding = is(buf, line, TRANSFER_ENCODING)
            ? join(transferEncoding, value(buf, v, ve)) : transferEncoding;
        default -> { }
      }
      line = lf + 1;
    }
    return new Http1Scanner.Head(method, target, status, host, contentType, traceparent, tracestate, baggage,
        contentLength, transferEncoding, traceparentIndex);
  }

  private static int trimCr(ByteBuf buf, int from, int lf) {
    return lf > from && buf.getByte(lf - 1) == '\r' ? lf - 1 : lf;
  }

  private static boolean is(ByteBuf buf, int at, byte[] lowerName) {
    for (int k = 0; k < lowerName.length; k++) {
      byte b = buf.getByte(at + k);
      if (b >= 'A' && b <= 'Z') {
        b += 'a' - 'A';
      }
      if (b != lowerName[k]) {
        return false;
      }
    }
    return true;
  }

  private static String value(ByteBuf buf, int from, int to) {
    return buf.toString(from, to - from, StandardCharsets.ISO_8859_1);
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

  private static long parseLength(String value) {
    if (value.isEmpty() || value.length() > 18) {
      return -1;
    }
    long n = 0;
    for (int k = 0; k < value.length(); k++) {
      char c = value.charAt(k);
      if (c < '0' || c > '9') {
        return -1;
      }
      n = n * 10 + (c - '0');
    }
    return n;
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }
}
