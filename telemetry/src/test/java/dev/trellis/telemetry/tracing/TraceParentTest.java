package dev.trellis.telemetry.tracing;

import static org.assertj.core.api.Assertions.assertThat;

import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class TraceParentTest {

  private static final String TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
  private static final String SPAN = "00f067aa0ba902b7";

  private static final TextMapGetter<String> ONE_TRACEPARENT = new TextMapGetter<>() {
    @Override
    public Iterable<String> keys(String carrier) {
      return List.of("traceparent");
    }

    @Override
    public String get(String carrier, String key) {
      return "traceparent".equals(key) ? carrier : null;
    }
  };

  /** What OpenTelemetry's propagator reads from {@code value}: the reference every case is checked against. */
  private static SpanContext otel(String value) {
    return Span.fromContext(W3CTraceContextPropagator.getInstance().extract(Context.root(), value, ONE_TRACEPARENT))
        .getSpanContext();
  }

  @ParameterizedTest(name = "{0}: {1} -> valid {2}")
  @CsvSource(delimiter = '|', textBlock = """
      version 00, sampled                    | 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01           | true
      version 00, not sampled                | 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00           | true
      other flag bits kept                   | 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03           | true
      future version, same length            | cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01           | true
      future version, extra field            | cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-ever | true
      future version, extra without dash     | cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x          | false
      version 00 with an extra field         | 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra     | false
      version ff                             | ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01           | false
      version not hex                        | 0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01           | false
      version uppercase                      | 0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01           | false
      all-zero trace id                      | 00-00000000000000000000000000000000-00f067aa0ba902b7-01           | false
      all-zero span id                       | 00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01           | false
      uppercase trace id                     | 00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01           | false
      uppercase span id                      | 00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01           | false
      uppercase flags                        | 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A           | false
      flags not hex                          | 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x           | false
      trace id one short                     | 00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01            | false
      trace id one long                      | 00-4bf92f3577b34da6a3ce929d0e0e47360-00f067aa0ba902b7-01          | false
      span id one short                      | 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01            | false
      flags one digit                        | 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1            | false
      wrong delimiter                        | 00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01           | false
      missing delimiter before flags         | 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7001           | false
      empty                                  | ''                                                                | false
      garbage                                | not-a-traceparent                                                 | false
      """)
  void aValueIsValidExactlyWhenOpenTelemetrysPropagatorReadsAParentFromIt(String what, String value, boolean valid) {
    assertThat(TraceParent.valid(value)).as(what).isEqualTo(valid);
    SpanContext reference = otel(value);
    assertThat(reference.isValid()).as("OpenTelemetry agrees: " + what).isEqualTo(valid);
    if (valid) {
      assertFieldsMatch(value, reference);
    }
  }

  @Test
  void theFieldsOfAValidValueAreItsIdsAndFlags() {
    String value = "00-" + TRACE + "-" + SPAN + "-03";
    assertThat(TraceParent.traceIdHigh(value)).isEqualTo(0x4bf92f3577b34da6L);
    assertThat(TraceParent.traceIdLow(value)).isEqualTo(0xa3ce929d0e0e4736L);
    assertThat(TraceParent.spanId(value)).isEqualTo(0x00f067aa0ba902b7L);
    assertThat(TraceParent.flags(value)).isEqualTo(3);
    assertThat(TraceParent.sampled(value)).isTrue();
    assertThat(TraceParent.sampled("00-" + TRACE + "-" + SPAN + "-02")).isFalse();
    assertThat(TraceParent.canonical(value)).isTrue();
    assertThat(TraceParent.canonical("01-" + TRACE + "-" + SPAN + "-03")).isFalse();
  }

  @Test
  void formatWritesWhatOpenTelemetrysPropagatorWritesForTheSameContext() {
    SplittableRandom random = new SplittableRandom(7);
    for (int i = 0; i < 2_000; i++) {
      long hi = random.nextLong();
      long lo = i == 0 ? 1 : random.nextLong();
      long span = i == 1 ? Long.MIN_VALUE : random.nextLong();
      int flags = random.nextInt(256);
      if (hi == 0 && lo == 0 || span == 0) {
        continue;
      }
      Map<String, String> written = new HashMap<>();
      SpanContext sc = SpanContext.create(TraceParent.hex(hi) + TraceParent.hex(lo), TraceParent.hex(span),
          TraceFlags.fromByte((byte) flags), TraceState.getDefault());
      W3CTraceContextPropagator.getInstance().inject(Context.root().with(Span.wrap(sc)), written, Map::put);
      String ours = TraceParent.format(hi, lo, span, flags);
      assertThat(ours).isEqualTo(written.get("traceparent"));
      assertThat(TraceParent.valid(ours)).isTrue();
      assertThat(TraceParent.traceIdHigh(ours)).isEqualTo(hi);
      assertThat(TraceParent.traceIdLow(ours)).isEqualTo(lo);
      assertThat(TraceParent.spanId(ours)).isEqualTo(span);
      assertThat(TraceParent.flags(ours)).isEqualTo(flags);
    }
  }

  /** Random edits of valid values (a character replaced, inserted or removed; cut; extended): the two parsers agree. */
  @Test
  void mutatedValuesAreJudgedAndReadAsOpenTelemetryJudgesAndReadsThem() {
    SplittableRandom random = new SplittableRandom(20);
    String alphabet = "0123456789abcdefABCDEFxX- \\t";
    String[] seeds = {"00-" + TRACE + "-" + SPAN + "-01", "00-" + TRACE + "-" + SPAN + "-00",
        "7f-" + TRACE + "-" + SPAN + "-01-ext", "00-00000000000000000000000000000001-0000000000000001-01"};
    int valid = 0;
    for (int i = 0; i < 50_000; i++) {
      StringBuilder b = new StringBuilder(seeds[random.nextInt(seeds.length)]);
      int edits = 1 + random.nextInt(3);
      for (int e = 0; e < edits; e++) {
        int at = b.isEmpty() ? 0 : random.nextInt(b.length());
        char c = alphabet.charAt(random.nextInt(alphabet.length()));
        switch (random.nextInt(5)) {
          case 0 -> { if (!b.isEmpty()) b.setCharAt(at, c); }
          case 1 -> b.insert(at, c);
          case 2 -> { if (!b.isEmpty()) b.deleteCharAt(at); }
          case 3 -> b.setLength(at);
          default -> b.append('-').append(c);
        }
      }
      String value = b.toString();
      SpanContext reference = otel(value);
      assertThat(TraceParent.valid(value)).as(value).isEqualTo(reference.isValid());
      if (reference.isValid()) {
        valid++;
        assertFieldsMatch(value, reference);
      }
    }
    assertThat(valid).as("some mutations stay valid, so the field comparison ran").isGreaterThan(100);
  }

  private static void assertFieldsMatch(String value, SpanContext reference) {
    assertThat(TraceParent.hex(TraceParent.traceIdHigh(value)) + TraceParent.hex(TraceParent.traceIdLow(value)))
        .isEqualTo(reference.getTraceId());
    assertThat(TraceParent.hex(TraceParent.spanId(value))).isEqualTo(reference.getSpanId());
    assertThat(TraceParent.flags(value)).isEqualTo(reference.getTraceFlags().asByte() & 0xff);
    assertThat(TraceParent.sampled(value)).isEqualTo(reference.isSampled());
  }
}
