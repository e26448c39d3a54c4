package dev.trellis.telemetry.accesslog;

import java.time.format.DateTimeFormatter;

/** An {@link AccessLogEntry} as one line of JSON: record component names as keys, nulls left out. */
final class AccessLogJson {

  private static final char[] HEX = "0123456789abcdef".toCharArray();

  private AccessLogJson() {}

  /** The entry's JSON object followed by {@code \n}. */
  static String line(AccessLogEntry e) {
    StringBuilder out = new StringBuilder(512);
    out.append('{');
    Fields f = new Fields(out);
    if (e.start() != null) {
      f.string("start", DateTimeFormatter.ISO_INSTANT.format(e.start()));
    }
    f.number("durationMicros", e.durationMicros());
    f.string("traceId", e.traceId());
    f.string("spanId", e.spanId());
    f.string("direction", e.direction());
    f.string("protocol", e.protocol());
    f.string("method", e.method());
    f.string("authority", e.authority());
    f.string("path", e.path());
    f.number("status", e.status());
    f.number("grpcStatus", e.grpcStatus());
    f.string("responseFlags", e.responseFlags());
    f.number("bytesReceived", e.bytesReceived());
    f.number("bytesSent", e.bytesSent());
    f.string("upstreamCluster", e.upstreamCluster());
    f.string("upstreamHost", e.upstreamHost());
    f.number("attempts", e.attempts());
    f.string("sourceWorkload", e.sourceWorkload());
    f.string("sourcePrincipal", e.sourcePrincipal());
    f.string("destinationWorkload", e.destinationWorkload());
    f.string("destinationService", e.destinationService());
    f.string("destinationPrincipal", e.destinationPrincipal());
    f.bool("mtls", e.mtls());
    f.string("error", e.error());
    return out.append("}\n").toString();
  }

  private static final class Fields {
    private final StringBuilder out;
    private boolean first = true;

    Fields(StringBuilder out) {
      this.out = out;
    }

    void string(String name, String value) {
      if (value != null) {
        name(name);
        quote(out, value);
      }
    }

    void number(String name, Number value) {
      if (value != null) {
        name(name);
        out.append(value);
      }
    }

    void bool(String name, boolean value) {
      name(name);
      out.append(value);
    }

    private void name(String name) {
      if (!first) {
        out.append(',');
      }
      first = false;
      out.append('"').append(name).append("\":");
    }
  }

  /**
   * {@code s} as a JSON string (RFC 8259): quote, backslash and control characters escaped; other characters kept
   * as they are (the line is UTF-8), except U+2028/U+2029 and unpaired surrogates, which are written as
   * {@code \\uXXXX} so every reader gets them back.
   */
  static void quote(StringBuilder out, String s) {
    out.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        case '\b' -> out.append("\\b");
        case '\f' -> out.append("\\f");
        default -> {
          if (c < 0x20 || c == '\u2028' || c == '\u2029') {
            unicodeEscape(out, c);
          } else if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
            out.append(c).append(s.charAt(++i));
          } else if (Character.isSurrogate(c)) {
            unicodeEscape(out, c);
          } else {
            out.append(c);
          }
        }
      }
    }
    out.append('"');
  }

  private static void unicodeEscape(StringBuilder out, char c) {
    out.append("\\u").append(HEX[c >> 12 & 0xF]).append(HEX[c >> 8 & 0xF]).append(HEX[c >> 4 & 0xF])
        .append(HEX[c & 0xF]);
  }
}
