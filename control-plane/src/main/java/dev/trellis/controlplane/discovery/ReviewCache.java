package dev.trellis.controlplane.discovery;

import dev.trellis.ca.CaException;
import dev.trellis.ca.server.Caller;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * TokenReview answers by token digest (SHA-256, never the token): accepted callers until their token's expiry or a
 * maximum age, refusals briefly. Two bounded maps (least recently used evicted), so refusals can never push accepted
 * callers out. Thread-safe.
 */
final class ReviewCache {

  private record Answer(Caller caller, CaException refusal, Instant until) {}

  private final Map<String, Answer> accepted;
  private final Map<String, Answer> refused;

  ReviewCache(int maxAccepted, int maxRefused) {
    accepted = bounded(maxAccepted);
    refused = bounded(maxRefused);
  }

  private static Map<String, Answer> bounded(int max) {
    return new LinkedHashMap<>(16, 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<String, Answer> eldest) {
        return size() > max;
      }
    };
  }

  /** The caller, if {@code digest} was accepted and that is still valid at {@code now}. */
  synchronized Caller findAccepted(String digest, Instant now) {
    Answer e = live(accepted, digest, now);
    return e == null ? null : e.caller();
  }

  /** The refusal, if {@code digest} was refused recently. */
  synchronized CaException findRefused(String digest, Instant now) {
    Answer e = live(refused, digest, now);
    return e == null ? null : e.refusal();
  }

  synchronized void accept(String digest, Caller caller, Instant until) {
    refused.remove(digest);
    accepted.put(digest, new Answer(caller, null, until));
  }

  synchronized void refuse(String digest, CaException refusal, Instant until) {
    refused.put(digest, new Answer(null, refusal, until));
  }

  synchronized int size() {
    return accepted.size() + refused.size();
  }

  private static Answer live(Map<String, Answer> map, String digest, Instant now) {
    Answer e = map.get(digest);
    if (e != null && !now.isBefore(e.until())) {
      map.remove(digest);
      return null;
    }
    return e;
  }
}
