package dev.trellis.telemetry.tracing;

import java.nio.charset.StandardCharsets;

/**
 * The W3C {@code traceparent} header read and written without intermediate strings: a value is checked once
 * ({@link #valid}), its fields are read as numbers, and a context is written as one 55-character version-00 value.
 * Accepts exactly what OpenTelemetry's {@code W3CTraceContextPropagator} accepts (lowercase hex; version {@code ff}
 * invalid; version 00 exactly 55 characters; a later version may carry more fields after a {@code -}; all-zero
 * trace or span ids invalid), so the mesh keeps one notion of a valid parent whichever path reads it.
 */
public final class TraceParent {

  /** Length of a version-00 value: {@code 00-<32 hex>-<16 hex>-<2 hex>}. */
  public static final int LENGTH = 55;
  private static final int TRACE_ID_HIGH = 3;
  private static final int TRACE_ID_LOW = 19;
  private static final int SPAN_ID = 36;
  private static final int FLAGS = 53;
  private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

  private TraceParent() {}

  /** Whether {@code value} is a traceparent a parent context can be read from (see the class comment). */
  public static boolean valid(CharSequence value) {
    int n = value.length();
    if (n < LENGTH || n > LENGTH && value.charAt(LENGTH) != '-') {
      return false;
    }
    if (value.charAt(2) != '-' || value.charAt(SPAN_ID - 1) != '-' || value.charAt(FLAGS - 1) != '-') {
      return false;
    }
    int version = hexByte(value, 0);
    if (version < 0 || version == 0xff || version == 0 && n > LENGTH) {
      return false;
    }
    long traceBits = 0;
    for (int i = TRACE_ID_HIGH; i < TRACE_ID_HIGH + 32; i++) {
      int d = hexDigit(value.charAt(i));
      if (d < 0) {
        return false;
      }
      traceBits |= d;
    }
    long spanBits = 0;
    for (int i = SPAN_ID; i < SPAN_ID + 16; i++) {
      int d = hexDigit(value.charAt(i));
      if (d < 0) {
        return false;
      }
      spanBits |= d;
    }
    return traceBits != 0 && spanBits != 0 && hexByte(value, FLAGS) >= 0;
  }

  /** The high 64 bits of the trace id of a {@link #valid} value. */
  public static long traceIdHigh(CharSequence valid) {
    return hexLong(valid, TRACE_ID_HIGH);
  }

  /** The low 64 bits of the trace id of a {@link #valid} value (what ratio sampling reads). */
  public static long traceIdLow(CharSequence valid) {
    return hexLong(valid, TRACE_ID_LOW);
  }

  /** The parent span id of a {@link #valid} value. */
  public static long spanId(CharSequence valid) {
    return hexLong(valid, SPAN_ID);
  }

  /** The trace flags byte of a {@link #valid} value. */
  public static int flags(CharSequence valid) {
    return hexByte(valid, FLAGS);
  }

  /** Whether a {@link #valid} value's sampled flag (bit 0) is set. */
  public static boolean sampled(CharSequence valid) {
    return (flags(valid) & 1) != 0;
  }

  /** Whether a {@link #valid} value is already in the form {@link #format} writes (version 00). */
  public static boolean canonical(CharSequence valid) {
    return valid.length() == LENGTH && valid.charAt(0) == '0' && valid.charAt(1) == '0';
  }

  /** {@code 00-<trace id>-<span id>-<flags>}, lowercase hex. */
  public static String format(long traceIdHigh, long traceIdLow, long spanId, int flags) {
    byte[] b = new byte[LENGTH];
    b[0] = '0';
    b[1] = '0';
    b[2] = '-';
    putHex(b, TRACE_ID_HIGH, traceIdHigh);
    putHex(b, TRACE_ID_LOW, traceIdLow);
    b[SPAN_ID - 1] = '-';
    putHex(b, SPAN_ID, spanId);
    b[FLAGS - 1] = '-';
    b[FLAGS] = HEX[(flags >> 4) & 0xf];
    b[FLAGS + 1] = HEX[flags & 0xf];
    return new String(b, StandardCharsets.ISO_8859_1);
  }

  /** A 64-bit id as 16 lowercase hex digits (the form OpenTelemetry's ids take). */
  public static String hex(long id) {
    byte[] b = new byte[16];
    putHex(b, 0, id);
    return new String(b, StandardCharsets.ISO_8859_1);
  }

  private static void putHex(byte[] b, int offset, long v) {
    for (int i = 15; i >= 0; i--) {
      b[offset + i] = HEX[(int) (v & 0xf)];
      v >>>= 4;
    }
  }

  private static long hexLong(CharSequence s, int offset) {
    long v = 0;
    for (int i = offset; i < offset + 16; i++) {
      v = (v << 4) | hexDigit(s.charAt(i));
    }
    return v;
  }

  private static int hexByte(CharSequence s, int offset) {
    int hi = hexDigit(s.charAt(offset));
    int lo = hexDigit(s.charAt(offset + 1));
    return hi < 0 || lo < 0 ? -1 : hi << 4 | lo;
  }

  /** 0–15 for {@code 0-9a-f}; -1 for anything else (uppercase included, as the W3C spec and OpenTelemetry say). */
  private static int hexDigit(char c) {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
      return c - 'a' + 10;
    }
    return -1;
  }
}
