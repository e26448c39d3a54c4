package dev.trellis.proxy.http;

/**
 * Where one {@link HttpExchange} is; it only moves forwards: {@code REQUEST -> RESPONSE -> DONE}, or
 * {@code REQUEST -> DONE} when it ends before anything went downstream.
 */
enum ExchangePhase {
  /** Request headers are in: routing, attempts and retries; nothing went downstream yet (a retry or a local reply may). */
  REQUEST,
  /** A response (the upstream's or a local reply) has begun going downstream: no retry and no other reply now. */
  RESPONSE,
  /** Ended (complete, reset or aborted) and cleaned up: whatever arrives later is released. */
  DONE;

  /** The phase {@code next}, refusing a move backwards (a bug in the exchange). */
  ExchangePhase to(ExchangePhase next) {
    if (next.compareTo(this) < 0) {
      throw new IllegalStateException("exchange phase: " + this + " -> " + next + " (expected: forwards only)");
    }
    return next;
  }
}
