package dev.trellis.telemetry.tracing;

import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.util.Collection;

/** Releases admitted spans as the batch processor hands them over, and counts the spans of failed exports. */
final class CountingSpanExporter implements SpanExporter {

  private final SpanExporter delegate;
  private final SpanDrops drops;

  CountingSpanExporter(SpanExporter delegate, SpanDrops drops) {
    this.delegate = delegate;
    this.drops = drops;
  }

  @Override
  public CompletableResultCode export(Collection<SpanData> spans) {
    int count = spans.size();
    drops.handedToExporter(count);
    CompletableResultCode result;
    try {
      result = delegate.export(spans);
    } catch (RuntimeException e) {
      drops.exportFailed(count);
      return CompletableResultCode.ofExceptionalFailure(e);
    }
    result.whenComplete(() -> {
      if (!result.isSuccess()) {
        drops.exportFailed(count);
      }
    });
    return result;
  }

  @Override
  public CompletableResultCode flush() {
    return delegate.flush();
  }

  @Override
  public CompletableResultCode shutdown() {
    return delegate.shutdown();
  }

  @Override
  public String toString() {
    return "CountingSpanExporter{" + delegate + "}";
  }
}
