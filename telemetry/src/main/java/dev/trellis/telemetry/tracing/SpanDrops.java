package dev.trellis.telemetry.tracing;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * One export pipeline's bookkeeping: how many ended spans are handed over and not yet passed to the exporter
 * ({@link #pending}), and how many were lost ({@link #dropped}).
 */
final class SpanDrops {

  final AtomicLong pending = new AtomicLong();
  final LongAdder dropped = new LongAdder();

  /** Claims a place for one span if fewer than {@code limit} are pending; never blocks. */
  boolean tryAdmit(long limit) {
    if (pending.incrementAndGet() > limit) {
      pending.decrementAndGet();
      dropped.increment();
      return false;
    }
    return true;
  }

  void handedToExporter(int spans) {
    pending.addAndGet(-spans);
  }

  void exportFailed(int spans) {
    dropped.add(spans);
  }
}
