package dev.trellis.controlplane.discovery;

import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A token bucket per peer (its IP address): {@code perSecond} refilled, at most {@code burst} at once. Remembers
 * the {@code maxPeers} most recently seen peers; a forgotten peer starts with a full bucket. Thread-safe.
 */
final class PeerRateLimiter {

  private static final class Bucket {
    double tokens;
    long lastNanos;
  }

  private final double perSecond;
  private final int burst;
  private final Clock clock;
  private final Map<String, Bucket> buckets;

  PeerRateLimiter(double perSecond, int burst, int maxPeers, Clock clock) {
    if (perSecond <= 0 || burst < 1 || maxPeers < 1) {
      throw new IllegalArgumentException("rate limit: " + perSecond + "/s, burst " + burst + ", " + maxPeers
          + " peers (expected: > 0, >= 1, >= 1)");
    }
    this.perSecond = perSecond;
    this.burst = burst;
    this.clock = clock;
    this.buckets = new LinkedHashMap<>(16, 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<String, Bucket> eldest) {
        return size() > maxPeers;
      }
    };
  }

  /** Takes one token of {@code peer}'s bucket; false when it is empty. */
  synchronized boolean tryAcquire(String peer) {
    long now = clock.millis() * 1_000_000L;
    Bucket b = buckets.get(peer);
    if (b == null) {
      b = new Bucket();
      b.tokens = burst;
      b.lastNanos = now;
      buckets.put(peer, b);
    } else {
      b.tokens = Math.min(burst, b.tokens + Math.max(0, now - b.lastNanos) / 1e9 * perSecond);
      b.lastNanos = now;
    }
    if (b.tokens < 1) {
      return false;
    }
    b.tokens -= 1;
    return true;
  }

  double perSecond() {
    return perSecond;
  }
}
