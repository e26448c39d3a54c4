package dev.trellis.proxy.observe;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.trellis.telemetry.tracing.TraceParent;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Fuzzes {@link TraceParent}, which reads the {@code traceparent} header any caller sends (the source proxy's
 * clients, the destination's peers): it never throws, calls a value valid exactly when OpenTelemetry's W3C propagator
 * reads a parent from it, reads the same ids and flags, and writes back what it read.
 */
class TraceParentFuzzTest {

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

  @FuzzTest
  void traceparent(byte[] input) {
    String value = new String(input, StandardCharsets.ISO_8859_1);
    SpanContext reference = Span.fromContext(W3CTraceContextPropagator.getInstance()
        .extract(Context.root(), value, ONE_TRACEPARENT)).getSpanContext();
    boolean valid = TraceParent.valid(value);
    assertThat(valid).as("valid(%s)", value).isEqualTo(reference.isValid());
    if (!valid) {
      return;
    }
    long high = TraceParent.traceIdHigh(value);
    long low = TraceParent.traceIdLow(value);
    long span = TraceParent.spanId(value);
    int flags = TraceParent.flags(value);
    assertThat(TraceParent.hex(high) + TraceParent.hex(low)).isEqualTo(reference.getTraceId());
    assertThat(TraceParent.hex(span)).isEqualTo(reference.getSpanId());
    assertThat(flags).isEqualTo(reference.getTraceFlags().asByte() & 0xff);
    assertThat(TraceParent.sampled(value)).isEqualTo(reference.isSampled());
    String written = TraceParent.format(high, low, span, flags);
    assertThat(TraceParent.valid(written)).as("what format writes is valid: %s", written).isTrue();
    if (TraceParent.canonical(value)) {
      assertThat(written).as("a canonical value is written back as it came").isEqualTo(value);
    }
  }
}
