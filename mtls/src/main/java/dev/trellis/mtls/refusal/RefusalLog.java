package dev.trellis.mtls.refusal;

import static java.util.Objects.requireNonNull;

import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;

/**
 * Refusals of untrusted input (a bad token, a request over a limit, a malformed message): each one is
 * counted by {@code (service, reason)} — the metric — and at most one line per key is logged per
 * interval, without a stack trace, saying how many were left out since the previous line. So a flood
 * of bad requests costs a counter increment each, never a log line each.
 *
 * <p>Reasons must come from a fixed set (an enum's names): the key space is not bounded otherwise.
 * The detail text may carry what the caller sent; it is cut to {@value #MAX_DETAIL} characters and
 * control characters are replaced, so a caller cannot forge log lines.
 */
public final class RefusalLog {

  /** Where the lines go; the default is a logger at WARN. */
  @FunctionalInterface
  public interface Sink {
    void line(String line);
  }

  /** A counter's labels. */
  public record Key(String service, String reason) implements Comparable<Key> {
    @Override
    public int compareTo(Key o) {
      int c = service.compareTo(o.service);
      return c != 0 ? c : reason.compareTo(o.reason);
    }
  }

  static final int MAX_DETAIL = 300;
  /** One line per key per this long, by default. */
  public static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(10);

  private static final class Entry {
    final LongAdder total = new LongAdder();
    final AtomicLong suppressed = new AtomicLong();
    final AtomicLong nextLineAtMillis = new AtomicLong(Long.MIN_VALUE);
  }

  private final Sink sink;
  private final long intervalMillis;
  private final Clock clock;
  private final Map<Key, Entry> entries = new ConcurrentHashMap<>();

  public RefusalLog(Sink sink, Duration interval, Clock clock) {
    this.sink = requireNonNull(sink, "sink");
    this.clock = requireNonNull(clock, "clock");
    if (interval.isNegative()) {
      throw new IllegalArgumentException("interval: " + interval + " (expected: >= 0)");
    }
    this.intervalMillis = interval.toMillis();
  }

  /** Lines at WARN on {@code logger}, one per key per {@link #DEFAULT_INTERVAL}. */
  public static RefusalLog to(Logger logger, Clock clock) {
    return new RefusalLog(logger::warn, DEFAULT_INTERVAL, clock);
  }

  /**
   * Counts one refusal and logs it unless a line for the same key was logged within the interval.
   *
   * @param service what was refused, e.g. {@code xds}, {@code ca}, {@code admin}
   * @param reason a stable label (lower case), e.g. {@code unauthenticated}
   * @param detail what happened, for the log line only
   */
  public void refuse(String service, String reason, String detail) {
    Entry e = entries.computeIfAbsent(new Key(service, reason), k -> new Entry());
    e.total.increment();
    long now = clock.millis();
    long next = e.nextLineAtMillis.get();
    if (now >= next && e.nextLineAtMillis.compareAndSet(next, now + intervalMillis)) {
      long left = e.suppressed.getAndSet(0);
      sink.line("refused " + service + " request (" + reason + "): " + clean(detail)
          + (left > 0 ? " [" + left + " more refused for this reason since the last line]" : ""));
    } else {
      e.suppressed.incrementAndGet();
    }
  }

  /** Refusals counted for {@code (service, reason)}. */
  public long count(String service, String reason) {
    Entry e = entries.get(new Key(service, reason));
    return e == null ? 0 : e.total.sum();
  }

  /** Every counter, sorted by key, for a metrics page. */
  public Map<Key, Long> counts() {
    Map<Key, Long> out = new TreeMap<>();
    entries.forEach((k, e) -> out.put(k, e.total.sum()));
    return out;
  }

  static String clean(String detail) {
    if (detail == null) {
      return "";
    }
    String cut = detail.length() > MAX_DETAIL ? detail.substring(0, MAX_DETAIL) + "..." : detail;
    StringBuilder b = new StringBuilder(cut.length());
    for (int i = 0; i < cut.length(); i++) {
      char c = cut.charAt(i);
      b.append(c < 0x20 || c == 0x7f ? '?' : c);
    }
    return b.toString();
  }
}
