package dev.trellis.telemetry.tracing;

import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanBuilder;
import java.util.Objects;

/**
 * How a proxied request's trace context goes on, decided before any span exists, so that a request that is not
 * sampled costs no span machinery: its {@code traceparent} is read and written by {@link TraceParent}. The decision
 * is the tracer's own: parent-based ratio sampling (a valid parent's sampled flag decides; a root is sampled when
 * the low 64 bits of its trace id are under the ratio's bound, as OpenTelemetry's {@code TraceIdRatioBased} reads
 * them), or, without an exporter, the parent passed on as OpenTelemetry's no-op tracer does.
 */
public final class RequestSampler {

  /** What the tracer behind this sampler is. */
  public enum Mode {
    /** No exporter: OpenTelemetry's no-op tracer, a valid parent's context passes on as it came. */
    PASS_THROUGH,
    /** Parent-based ratio sampling, the mesh's tracer with exporters. */
    PARENT_BASED_RATIO,
    /** A tracer whose sampler this class does not know (tests): every request goes through the tracer. */
    TRACER
  }

  /** What to do with one request. */
  public enum Start {
    /** No trace context at all: nothing to propagate (no exporter and no valid parent). */
    NONE,
    /** The parent's context goes on unchanged (no exporter). */
    PARENT,
    /** Not sampled: a new span id under the parent's trace id (or a new trace id), flags 00, no span. */
    UNSAMPLED,
    /** A sampled root: the tracer's span, with the trace id the decision was made on ({@link #startRoot}). */
    SAMPLED_ROOT,
    /** Through the tracer with the parent extracted as before: a sampled parent, or one carrying tracestate. */
    TRACER
  }

  private static final int RANDOM_TRACE_ID = 0x02;
  private static final RequestSampler PASS_THROUGH = new RequestSampler(Mode.PASS_THROUGH, 0, 0, null);
  private static final RequestSampler TRACER = new RequestSampler(Mode.TRACER, 0, 0, null);

  private final Mode mode;
  private final double ratio;
  private final long idUpperBound;
  private final TraceIdHandOff ids;

  private RequestSampler(Mode mode, double ratio, long idUpperBound, TraceIdHandOff ids) {
    this.mode = mode;
    this.ratio = ratio;
    this.idUpperBound = idUpperBound;
    this.ids = ids;
  }

  /** OpenTelemetry's no-op tracer (no exporter). */
  public static RequestSampler passThrough() {
    return PASS_THROUGH;
  }

  /** Every request through the tracer, whatever its sampler (the behaviour before this class). */
  public static RequestSampler tracer() {
    return TRACER;
  }

  /**
   * {@code Sampler.parentBased(Sampler.traceIdRatioBased(ratio))} on a tracer provider whose id generator is
   * {@code ids}.
   */
  public static RequestSampler parentBasedRatio(double ratio, TraceIdHandOff ids) {
    if (!(ratio >= 0.0 && ratio <= 1.0)) {
      throw new IllegalArgumentException("ratio: " + ratio + " (expected: 0.0 to 1.0)");
    }
    Objects.requireNonNull(ids, "ids");
    // The bound exactly as TraceIdRatioBasedSampler computes it.
    long bound = ratio == 0.0 ? Long.MIN_VALUE : ratio == 1.0 ? Long.MAX_VALUE : (long) (ratio * Long.MAX_VALUE);
    return new RequestSampler(Mode.PARENT_BASED_RATIO, ratio, bound, ids);
  }

  public Mode mode() {
    return mode;
  }

  public double ratio() {
    return ratio;
  }

  /** Whether a root with {@code traceIdLow} as the low 64 bits of its trace id is sampled (ratio mode). */
  public boolean sampleRoot(long traceIdLow) {
    return Math.abs(traceIdLow) < idUpperBound;
  }

  /**
   * The decision for one request.
   *
   * @param parentValid the request carries a {@link TraceParent#valid} traceparent
   * @param parentSampled that parent's sampled flag
   * @param parentTraceState it also carries a non-empty {@code tracestate}
   * @param rootTraceIdLow for a request without a valid parent in ratio mode, the low bits of its new trace id
   */
  public Start decide(boolean parentValid, boolean parentSampled, boolean parentTraceState, long rootTraceIdLow) {
    return switch (mode) {
      case TRACER -> Start.TRACER;
      case PASS_THROUGH -> !parentValid ? Start.NONE : parentTraceState ? Start.TRACER : Start.PARENT;
      case PARENT_BASED_RATIO -> {
        if (!parentValid) {
          yield sampleRoot(rootTraceIdLow) ? Start.SAMPLED_ROOT : Start.UNSAMPLED;
        }
        yield parentSampled || parentTraceState ? Start.TRACER : Start.UNSAMPLED;
      }
    };
  }

  /**
   * The trace flags of an unsampled request's own context, as the SDK sets them: sampled off; the W3C "random trace
   * id" flag (0x02) on for a new trace (the ids are random) and inherited from a parent; other bits dropped.
   */
  public static int unsampledFlags(boolean parentValid, int parentFlags) {
    return parentValid ? parentFlags & RANDOM_TRACE_ID : RANDOM_TRACE_ID;
  }

  /** Starts a sampled root ({@link Start#SAMPLED_ROOT}) from {@code rootBuilder} with the trace id decided on. */
  public Span startRoot(SpanBuilder rootBuilder, long traceIdHigh, long traceIdLow) {
    if (mode != Mode.PARENT_BASED_RATIO) {
      throw new IllegalStateException("startRoot: mode " + mode + " (expected: PARENT_BASED_RATIO)");
    }
    return ids.start(rootBuilder, TraceParent.hex(traceIdHigh) + TraceParent.hex(traceIdLow));
  }
}
