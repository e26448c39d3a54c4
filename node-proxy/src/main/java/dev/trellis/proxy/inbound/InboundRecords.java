package dev.trellis.proxy.inbound;

import dev.trellis.mtls.identity.SpiffeId;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The most recent inbound HBONE requests and what became of them, for {@code /connections} and tests.
 * Bounded: the oldest entries fall off. Telemetry proper (access logs, metrics) comes with the
 * telemetry work; this is the proxy's own short memory.
 */
public final class InboundRecords {

  /**
   * One request: who asked, for what, and the answer. Who asked is only what the proxy verified itself.
   *
   * @param peer the caller's verified SPIFFE ID (its certificate), or null for a plaintext caller
   * @param peerAddress the address of the connection the request came on (the HBONE or plaintext peer)
   * @param claimed what the caller's CONNECT said about itself ({@code forwarded}, {@code traceparent},
   *     {@code baggage}), as sent: claims, not verified, never used for identity or access decisions
   */
  public record Entry(Instant at, SpiffeId peer, String peerAddress, String authority, String workload, int status,
      String reason, Map<String, String> claimed) {

    public Entry {
      claimed = Map.copyOf(claimed);
    }

    public Entry(Instant at, SpiffeId peer, String peerAddress, String authority, String workload, int status,
        String reason) {
      this(at, peer, peerAddress, authority, workload, status, reason, Map.of());
    }
  }

  private final int capacity;
  private final Deque<Entry> entries = new ArrayDeque<>();
  private final Map<Integer, Long> byStatus = new TreeMap<>();

  public InboundRecords(int capacity) {
    this.capacity = capacity;
  }

  public synchronized void add(Entry e) {
    if (entries.size() == capacity) {
      entries.removeFirst();
    }
    entries.addLast(e);
    byStatus.merge(e.status(), 1L, Long::sum);
  }

  /** Every request so far, counted by the status it was answered with (for {@code /metrics}). */
  public synchronized Map<Integer, Long> countByStatus() {
    return Map.copyOf(byStatus);
  }

  public synchronized List<Entry> recent() {
    return List.copyOf(entries);
  }
}
