package dev.trellis.xds.server;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Counts open ADS streams per connection, per authenticated client and of anonymous clients, against
 * {@link AdsLimits}. A slot is taken before a stream may hold anything and given back when it closes; keys
 * with no open stream are dropped, so the maps hold only what is open. Thread-safe.
 */
final class StreamAdmission {

  private final AdsLimits limits;
  private final Map<Object, Integer> perConnection = new ConcurrentHashMap<>();
  private final Map<String, Integer> perClient = new ConcurrentHashMap<>();
  private final AtomicInteger anonymous = new AtomicInteger();

  StreamAdmission(AdsLimits limits) {
    this.limits = limits;
  }

  /** Takes a slot on {@code connection}; refuses when it has {@link AdsLimits#maxStreamsPerConnection()} open. */
  void enterConnection(Object connection) {
    if (!tryTake(perConnection, connection, limits.maxStreamsPerConnection())) {
      throw new AdsRefusal(AdsRefusal.Reason.TOO_MANY_STREAMS_PER_CONNECTION, "this connection already has "
          + limits.maxStreamsPerConnection() + " ADS streams open (the limit per connection); a client needs one");
    }
  }

  void leaveConnection(Object connection) {
    give(perConnection, connection);
  }

  /** Takes a slot for the client of {@code scope}: per principal, or among all anonymous clients. */
  void enterClient(ClientScope scope) {
    if (scope.isAnonymous()) {
      if (anonymous.incrementAndGet() > limits.maxAnonymousStreams()) {
        anonymous.decrementAndGet();
        throw new AdsRefusal(AdsRefusal.Reason.TOO_MANY_ANONYMOUS_STREAMS, limits.maxAnonymousStreams()
            + " anonymous ADS streams are open (the limit for clients without a token); authenticate with "
            + "'authorization: Bearer <token>' or retry later");
      }
    } else if (!tryTake(perClient, scope.principal(), limits.maxStreamsPerClient())) {
      throw new AdsRefusal(AdsRefusal.Reason.TOO_MANY_STREAMS_PER_CLIENT, scope.principal() + " already has "
          + limits.maxStreamsPerClient() + " ADS streams open (the limit per client); close the old ones first");
    }
  }

  void leaveClient(ClientScope scope) {
    if (scope.isAnonymous()) {
      anonymous.decrementAndGet();
    } else {
      give(perClient, scope.principal());
    }
  }

  int anonymousStreams() {
    return anonymous.get();
  }

  /** Keys currently counted, for tests of the bookkeeping. */
  int trackedKeys() {
    return perConnection.size() + perClient.size();
  }

  private static <K> boolean tryTake(Map<K, Integer> counts, K key, int max) {
    boolean[] taken = {false};
    counts.compute(key, (k, n) -> {
      int current = n == null ? 0 : n;
      if (current >= max) {
        return n;
      }
      taken[0] = true;
      return current + 1;
    });
    return taken[0];
  }

  private static <K> void give(Map<K, Integer> counts, K key) {
    counts.computeIfPresent(key, (k, n) -> n <= 1 ? null : n - 1);
  }
}
