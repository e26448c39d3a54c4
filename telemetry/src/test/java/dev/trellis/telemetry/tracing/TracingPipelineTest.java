package dev.trellis.telemetry.tracing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.context.Context;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class TracingPipelineTest {

  private static final String TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
  private static final String PARENT_SPAN_ID = "00f067aa0ba902b7";

  private final InMemorySpanExporter exported = InMemorySpanExporter.create();
  private TracingPipeline pipeline;

  @AfterEach
  void close() {
    if (pipeline != null) {
      pipeline.close();
    }
  }

  private TracingPipeline pipeline(double ratio, SpanExporter exporter) {
    pipeline = TracingPipeline.create(ratio, 2048, Resource.empty(), List.of(exporter));
    return pipeline;
  }

  private static void endSpans(TracingPipeline pipeline, Context parent, int count) {
    for (int i = 0; i < count; i++) {
      pipeline.tracer().spanBuilder("GET /").setParent(parent).startSpan().end();
    }
  }

  private List<SpanData> flushed() {
    assertThat(pipeline.forceFlush().join(10, TimeUnit.SECONDS).isSuccess()).isTrue();
    return exported.getFinishedSpanItems();
  }

  private static Context remoteParent(TraceFlags flags) {
    return Context.root().with(Span.wrap(
        SpanContext.createFromRemoteParent(TRACE_ID, PARENT_SPAN_ID, flags, TraceState.getDefault())));
  }

  @Test
  void ratioZeroSamplesNoRootSpan() {
    endSpans(pipeline(0, exported), Context.root(), 50);
    assertThat(flushed()).isEmpty();
  }

  @Test
  void ratioOneSamplesEveryRootSpan() {
    endSpans(pipeline(1, exported), Context.root(), 50);
    assertThat(flushed()).hasSize(50);
    assertThat(pipeline.droppedSpans()).isZero();
  }

  @Test
  void aSampledRemoteParentIsFollowedAtRatioZero() {
    endSpans(pipeline(0, exported), remoteParent(TraceFlags.getSampled()), 3);
    assertThat(flushed()).hasSize(3).allSatisfy(span -> {
      assertThat(span.getTraceId()).isEqualTo(TRACE_ID);
      assertThat(span.getParentSpanId()).isEqualTo(PARENT_SPAN_ID);
    });
  }

  @Test
  void anUnsampledRemoteParentIsFollowedAtRatioOne() {
    TracingPipeline p = pipeline(1, exported);
    Span span = p.tracer().spanBuilder("GET /").setParent(remoteParent(TraceFlags.getDefault())).startSpan();
    span.end();
    assertThat(span.getSpanContext().isSampled()).isFalse();
    assertThat(span.getSpanContext().getTraceId()).isEqualTo(TRACE_ID);
    assertThat(flushed()).isEmpty();
  }

  @Test
  void withoutExportersTheTracerIsNoOpAndCarriesTheParentOn() {
    pipeline = TracingPipeline.create(1, 2048, Resource.empty(), List.of());
    Span span = pipeline.tracer().spanBuilder("GET /").setParent(remoteParent(TraceFlags.getSampled())).startSpan();
    assertThat(span.isRecording()).isFalse();
    assertThat(span.getSpanContext().getTraceId()).isEqualTo(TRACE_ID);
    assertThat(span.getSpanContext().getSpanId()).isEqualTo(PARENT_SPAN_ID);
    assertThat(pipeline.droppedSpans()).isZero();
  }

  @Test
  @Timeout(30) // a guard for a regression that blocks; the assertions are on counts
  void anExporterThatNeverReturnsMakesSpansDropNotCallersWait() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger exportCalls = new AtomicInteger();
    SpanExporter stuck = new SpanExporter() {
      @Override
      public CompletableResultCode export(Collection<SpanData> spans) {
        exportCalls.incrementAndGet();
        try {
          release.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        return CompletableResultCode.ofSuccess();
      }

      @Override
      public CompletableResultCode flush() {
        return CompletableResultCode.ofSuccess();
      }

      @Override
      public CompletableResultCode shutdown() {
        return CompletableResultCode.ofSuccess();
      }
    };
    int queue = 16;
    pipeline = TracingPipeline.create(1, queue, Resource.empty(), List.of(stuck));
    try {
      endSpans(pipeline, Context.root(), 1000);
      // At most one batch (<= queue spans) left the queue for the stuck exporter, and at most `queue` wait behind
      // it: every other span was dropped, counted, on the caller's thread.
      assertThat(pipeline.droppedSpans()).isBetween(1000L - 2 * queue, 1000L - queue);
      assertThat(exportCalls.get()).isLessThanOrEqualTo(1);
    } finally {
      release.countDown();
    }
  }

  @Test
  void spansOfAFailedExportCountAsDropped() {
    SpanExporter failing = new SpanExporter() {
      @Override
      public CompletableResultCode export(Collection<SpanData> spans) {
        return CompletableResultCode.ofFailure();
      }

      @Override
      public CompletableResultCode flush() {
        return CompletableResultCode.ofSuccess();
      }

      @Override
      public CompletableResultCode shutdown() {
        return CompletableResultCode.ofSuccess();
      }
    };
    endSpans(pipeline(1, failing), Context.root(), 25);
    pipeline.forceFlush();
    await().atMost(10, TimeUnit.SECONDS).until(() -> pipeline.droppedSpans() == 25);
  }

  @Test
  void anExporterThatThrowsCountsAsFailed() {
    SpanExporter throwing = new SpanExporter() {
      @Override
      public CompletableResultCode export(Collection<SpanData> spans) {
        throw new IllegalStateException("collector client broke");
      }

      @Override
      public CompletableResultCode flush() {
        return CompletableResultCode.ofSuccess();
      }

      @Override
      public CompletableResultCode shutdown() {
        return CompletableResultCode.ofSuccess();
      }
    };
    endSpans(pipeline(1, throwing), Context.root(), 4);
    pipeline.forceFlush();
    await().atMost(10, TimeUnit.SECONDS).until(() -> pipeline.droppedSpans() == 4);
  }

  @Test
  void eachExporterGetsEverySampledSpan() {
    InMemorySpanExporter second = InMemorySpanExporter.create();
    pipeline = TracingPipeline.create(1, 2048, Resource.empty(), List.of(exported, second));
    endSpans(pipeline, Context.root(), 7);
    assertThat(flushed()).hasSize(7);
    assertThat(second.getFinishedSpanItems()).hasSize(7);
  }
}
