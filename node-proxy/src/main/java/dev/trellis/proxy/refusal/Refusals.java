package dev.trellis.proxy.refusal;

import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Counts what the node proxy refuses and logs it without letting the input choose how much is logged: at most one
 * line per listener and {@link Refusal} per window (10 s by default), never a stack trace, the detail cut to
 * {@value #MAX_DETAIL} characters; the line says how many refusals of that kind went unlogged since the previous
 * one. The counts are {@code trellis_proxy_refusals_total{listener, reason}} on {@code /metrics}.
 *
 * <p>Called from any event loop: lock-free (a counter and a "next line allowed at" time per kind). Time is the
 * injected ticker's nanoseconds.
 */
public final class Refusals {

  /** Longest detail kept in a log line: a peer's bytes never make a line long. */
  static final int MAX_DETAIL = 200;
  /** The default: one line per kind of refusal per this long. */
  public static final Duration WINDOW = Duration.ofSeconds(10);
  private static final Logger log = LoggerFactory.getLogger(Refusals.class);

  private record Key(Refusal.Listener listener, Refusal reason) {}

  private static final class Kind {
    final LongAdder count = new LongAdder();
    final AtomicLong suppressed = new AtomicLong();
    final AtomicLong nextLineAt;

    Kind(long now) {
      nextLineAt = new AtomicLong(now);
    }
  }

  private final LongSupplier ticker;
  private final long windowNanos;
  private final Consumer<String> sink;
  private final ConcurrentHashMap<Key, Kind> kinds = new ConcurrentHashMap<>();

  /** Logs through SLF4J at INFO, one line per kind per {@link #WINDOW}. */
  public Refusals(LongSupplier ticker) {
    this(ticker, WINDOW, log::info);
  }

  /**
   * @param ticker nanoseconds (only differences matter)
   * @param window at most one line per kind of refusal within it
   * @param sink where the lines go
   */
  public Refusals(LongSupplier ticker, Duration window, Consumer<String> sink) {
    if (window.isNegative()) {
      throw new IllegalArgumentException("window: " + window + " (expected: >= 0)");
    }
    this.ticker = ticker;
    this.windowNanos = window.toNanos();
    this.sink = sink;
  }

  /**
   * Counts one refusal and logs it unless a line for the same listener and reason was written within the window.
   *
   * @param peer who sent it (an address, or null)
   * @param detail what was wrong, for the log line (cut to {@value #MAX_DETAIL} characters)
   */
  public void refuse(Refusal.Listener listener, Refusal reason, Object peer, String detail) {
    long now = ticker.getAsLong();
    Kind kind = kinds.computeIfAbsent(new Key(listener, reason), k -> new Kind(now));
    kind.count.increment();
    long next = kind.nextLineAt.get();
    if (now - next >= 0 && kind.nextLineAt.compareAndSet(next, now + windowNanos)) {
      long unlogged = kind.suppressed.getAndSet(0);
      sink.accept(line(listener, reason, peer, detail, unlogged));
    } else {
      kind.suppressed.incrementAndGet();
    }
  }

  static String line(Refusal.Listener listener, Refusal reason, Object peer, String detail, long unlogged) {
    StringBuilder b = new StringBuilder("[").append(listener.label()).append("] refused");
    if (peer != null) {
      b.append(' ').append(peer);
    }
    b.append(": ").append(reason.label());
    if (detail != null && !detail.isEmpty()) {
      b.append(": ").append(oneLine(detail));
    }
    if (unlogged > 0) {
      b.append(" (").append(unlogged).append(" more ").append(reason.label()).append(" refusals since the last such "
          + "line were counted, not logged)");
    }
    return b.toString();
  }

  /** The detail on one line, without control characters, at most {@value #MAX_DETAIL} characters. */
  static String oneLine(String detail) {
    StringBuilder b = new StringBuilder(Math.min(detail.length(), MAX_DETAIL + 3));
    for (int i = 0; i < detail.length() && b.length() < MAX_DETAIL; i++) {
      char c = detail.charAt(i);
      b.append(Character.isISOControl(c) ? ' ' : c);
    }
    if (detail.length() > MAX_DETAIL) {
      b.append("...");
    }
    return b.toString();
  }

  /** How many refusals of this listener and reason so far. */
  public long count(Refusal.Listener listener, Refusal reason) {
    Kind kind = kinds.get(new Key(listener, reason));
    return kind == null ? 0 : kind.count.sum();
  }

  /** Every count so far, keyed by listener label then reason label (sorted), for {@code /metrics}. */
  public Map<String, Map<String, Long>> counts() {
    Map<String, Map<String, Long>> out = new TreeMap<>();
    kinds.forEach((key, kind) -> out.computeIfAbsent(key.listener().label(), l -> new TreeMap<>())
        .put(key.reason().label(), kind.count.sum()));
    return out;
  }
}
