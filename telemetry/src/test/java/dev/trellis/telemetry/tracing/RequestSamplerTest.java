package dev.trellis.telemetry.tracing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.context.Context;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import io.opentelemetry.sdk.trace.samplers.SamplingDecision;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RequestSamplerTest {

  private static RequestSampler sampler(String mode, double ratio) {
    return switch (mode) {
      case "pass" -> RequestSampler.passThrough();
      case "tracer" -> RequestSampler.tracer();
      default -> RequestSampler.parentBasedRatio(ratio, new TraceIdHandOff());
    };
  }

  @ParameterizedTest(name = "{0} ratio {1}: parent valid {2}, sampled {3}, tracestate {4}, root low {5} -> {6}")
  @CsvSource(textBlock = """
      pass,   0,    false, false, false, 0,  NONE
      pass,   0,    true,  false, false, 0,  PARENT
      pass,   0,    true,  true,  false, 0,  PARENT
      pass,   0,    true,  true,  true,  0,  TRACER
      tracer, 0,    false, false, false, 0,  TRACER
      tracer, 0,    true,  false, false, 0,  TRACER
      ratio,  0,    false, false, false, 1,  UNSAMPLED
      ratio,  1,    false, false, false, 1,  SAMPLED_ROOT
      ratio,  0.5,  false, false, false, 4611686018427387903,  SAMPLED_ROOT
      ratio,  0.5,  false, false, false, 4611686018427387904,  UNSAMPLED
      ratio,  0.5,  false, false, false, -4611686018427387903, SAMPLED_ROOT
      ratio,  0.01, true,  false, false, 0,  UNSAMPLED
      ratio,  1,    true,  false, false, 0,  UNSAMPLED
      ratio,  0,    true,  true,  false, 0,  TRACER
      ratio,  0.01, true,  false, true,  0,  TRACER
      ratio,  0.01, true,  true,  true,  0,  TRACER
      """)
  void aParentsSampledFlagDecidesARootsTraceIdDecidesAndTracestateGoesThroughTheTracer(String mode, double ratio,
      boolean parentValid, boolean parentSampled, boolean tracestate, long rootLow, RequestSampler.Start expected) {
    assertThat(sampler(mode, ratio).decide(parentValid, parentSampled, tracestate, rootLow)).isEqualTo(expected);
  }

  @ParameterizedTest(name = "parent valid {0}, parent flags {1} -> {2}")
  @CsvSource(textBlock = """
      false, 0,   2
      true,  0,   0
      true,  1,   0
      true,  2,   2
      true,  3,   2
      true,  255, 2
      """)
  void anUnsampledContextKeepsOnlyTheRandomTraceIdFlagAsTheSdkDoes(boolean parentValid, int parentFlags,
      int expected) {
    assertThat(RequestSampler.unsampledFlags(parentValid, parentFlags)).isEqualTo(expected);
  }

  /** The root decision is OpenTelemetry's TraceIdRatioBased, read on the same trace id. */
  @Test
  void aRootIsSampledExactlyWhenOpenTelemetrysRatioSamplerSamplesItsTraceId() {
    SplittableRandom random = new SplittableRandom(11);
    long[] edges = {1, -1, Long.MAX_VALUE, Long.MIN_VALUE, Long.MIN_VALUE + 1, 92233720368547758L,
        92233720368547757L, -92233720368547757L, -92233720368547758L};
    for (double ratio : new double[] {0.0, 0.0001, 0.01, 0.5, 0.999, 1.0}) {
      RequestSampler ours = RequestSampler.parentBasedRatio(ratio, new TraceIdHandOff());
      Sampler reference = Sampler.traceIdRatioBased(ratio);
      for (int i = 0; i < 20_000 + edges.length; i++) {
        long lo = i < edges.length ? edges[i] : random.nextLong();
        long hi = random.nextLong();
        if (lo == 0) {
          continue;
        }
        boolean sampled = reference.shouldSample(Context.root(), TraceParent.hex(hi) + TraceParent.hex(lo), "GET",
            SpanKind.CLIENT, Attributes.empty(), List.of()).getDecision() == SamplingDecision.RECORD_AND_SAMPLE;
        assertThat(ours.sampleRoot(lo)).as("ratio %s, low bits %s", ratio, lo).isEqualTo(sampled);
      }
    }
  }

  @Test
  void aSampledRootIsTheTracersRecordingSpanOnTheTraceIdDecidedOn() {
    TraceIdHandOff ids = new TraceIdHandOff();
    InMemorySpanExporter spans = InMemorySpanExporter.create();
    try (SdkTracerProvider provider = SdkTracerProvider.builder().setIdGenerator(ids)
        .setSampler(Sampler.parentBased(Sampler.traceIdRatioBased(0.5)))
        .addSpanProcessor(SimpleSpanProcessor.create(spans)).build()) {
      RequestSampler sampler = RequestSampler.parentBasedRatio(0.5, ids);
      long lo = 12345;
      assertThat(sampler.decide(false, false, false, lo)).isEqualTo(RequestSampler.Start.SAMPLED_ROOT);
      Span span = sampler.startRoot(provider.get("t").spanBuilder("GET").setParent(Context.root()), 0xabcL, lo);
      assertThat(span.isRecording()).isTrue();
      assertThat(span.getSpanContext().getTraceId()).isEqualTo("0000000000000abc0000000000003039");
      assertThat(span.getSpanContext().isSampled()).isTrue();
      span.end();
      Span next = provider.get("t").spanBuilder("GET").setParent(Context.root()).startSpan();
      assertThat(next.getSpanContext().getTraceId()).as("the hand-off lasts one span: the next root is random")
          .isNotEqualTo("0000000000000abc0000000000003039");
      boolean nextRecorded = next.isRecording();
      next.end();
      assertThat(spans.getFinishedSpanItems()).hasSize(nextRecorded ? 2 : 1);
    }
  }

  @Test
  void aRatioOutsideZeroToOneIsRefusedNamingTheRange() {
    assertThatThrownBy(() -> RequestSampler.parentBasedRatio(1.5, new TraceIdHandOff()))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("ratio: 1.5 (expected: 0.0 to 1.0)");
    assertThatThrownBy(() -> RequestSampler.tracer().startRoot(null, 1, 1))
        .isInstanceOf(IllegalStateException.class);
  }
}
