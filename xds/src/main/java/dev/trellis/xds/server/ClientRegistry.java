package dev.trellis.xds.server;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/** The connected xDS streams, for debug output and metrics. */
public final class ClientRegistry {

  private final Set<XdsStream<?, ?>> streams = ConcurrentHashMap.newKeySet();

  void add(XdsStream<?, ?> stream) {
    streams.add(stream);
  }

  void remove(XdsStream<?, ?> stream) {
    streams.remove(stream);
  }

  public int size() {
    return streams.size();
  }

  /** The open streams themselves (tests look at what each keeps). */
  List<XdsStream<?, ?>> open() {
    return List.copyOf(streams);
  }

  /**
   * A consistent view of each client, taken on each stream's own executor. Streams that do not
   * answer within {@code timeout} (busy) are left out rather than blocking the caller.
   */
  public List<ClientStatus> clients(Duration timeout) {
    List<CompletableFuture<ClientStatus>> futures = new ArrayList<>();
    for (XdsStream<?, ?> s : streams) {
      futures.add(s.status());
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    List<ClientStatus> result = new ArrayList<>();
    for (CompletableFuture<ClientStatus> f : futures) {
      try {
        result.add(f.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS));
      } catch (Exception e) {
        // busy or closing: skip
      }
    }
    result.sort(Comparator.comparing(ClientStatus::clientId).thenComparing(ClientStatus::streamId));
    return result;
  }
}
