package dev.trellis.telemetry.tracing;

import io.opentelemetry.context.Context;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.ReadWriteSpan;
import io.opentelemetry.sdk.trace.ReadableSpan;
import io.opentelemetry.sdk.trace.SpanProcessor;

/**
 * In front of a {@link io.opentelemetry.sdk.trace.export.BatchSpanProcessor}: passes a sampled span on only while
 * fewer than {@code limit} spans wait for the exporter, and counts the rest as dropped. The batch processor's queue
 * is as large as {@code limit}, so it never drops on its own (it would not say so), and {@link #onEnd} stays a
 * counter update and a lock-free offer: nothing on the caller's (event-loop) thread waits.
 */
final class AdmittingSpanProcessor implements SpanProcessor {

  private final SpanProcessor delegate;
  private final SpanDrops drops;
  private final long limit;

  AdmittingSpanProcessor(SpanProcessor delegate, SpanDrops drops, long limit) {
    this.delegate = delegate;
    this.drops = drops;
    this.limit = limit;
  }

  @Override
  public void onStart(Context parentContext, ReadWriteSpan span) {}

  @Override
  public boolean isStartRequired() {
    return false;
  }

  @Override
  public void onEnd(ReadableSpan span) {
    if (span.getSpanContext().isSampled() && drops.tryAdmit(limit)) {
      delegate.onEnd(span);
    }
  }

  @Override
  public boolean isEndRequired() {
    return true;
  }

  @Override
  public CompletableResultCode forceFlush() {
    return delegate.forceFlush();
  }

  @Override
  public CompletableResultCode shutdown() {
    return delegate.shutdown();
  }
}
