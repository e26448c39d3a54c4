package dev.trellis.proxy.cluster;

import dev.trellis.proxy.state.ClusterSpec;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.LongUnaryOperator;

/**
 * Picks an endpoint for one attempt. Built once per endpoint set (ring-hash and Maglev tables are
 * computed then); {@link #pick} is a function of its input and the hosts' current counters.
 *
 * <p>Common to every algorithm: ejected hosts are left out unless fewer than half the hosts remain
 * (Envoy's 50% panic threshold: then all hosts are candidates); hosts a request already tried are
 * avoided while any other candidate exists.
 */
public interface LoadBalancer {

  /**
   * What a pick depends on besides the hosts.
   *
   * @param now the ticker's nanoseconds (ejections end by it)
   * @param hash the request's hash (header or source address) when {@code hashed}
   * @param avoid hosts earlier attempts of this request used
   * @param counter the cluster's round-robin count for this pick
   * @param random draws a value in {@code [0, bound)}
   */
  record Input(long now, long hash, boolean hashed, Collection<Host> avoid, long counter, LongUnaryOperator random) {
    public static Input of(long now, long counter, LongUnaryOperator random) {
      return new Input(now, 0, false, List.of(), counter, random);
    }

    public Input hashed(long h) {
      return new Input(now, h, true, avoid, counter, random);
    }

    public Input avoiding(Collection<Host> tried) {
      return new Input(now, hash, hashed, tried, counter, random);
    }
  }

  /** The chosen host, or null when the cluster has none. */
  Host pick(Input in);

  List<Host> hosts();

  static LoadBalancer of(ClusterSpec.LbAlgorithm algorithm, List<Host> hosts) {
    return switch (algorithm) {
      case ROUND_ROBIN -> new RoundRobin(hosts);
      case LEAST_REQUEST -> new LeastRequest(hosts);
      case RANDOM -> new RandomPick(hosts);
      case RING_HASH -> new RingHash(hosts);
      case MAGLEV -> new Maglev(hosts, Maglev.TABLE_SIZE);
    };
  }

  /** Hosts that may take the attempt: healthy ones (or all, in panic), minus those to avoid if any remain. */
  static List<Host> candidates(List<Host> hosts, Input in) {
    if (in.avoid().isEmpty() && noneEjected(hosts, in.now())) {
      return hosts; // the common case allocates nothing
    }
    List<Host> healthy = new ArrayList<>(hosts.size());
    for (Host h : hosts) {
      if (!h.ejectedAt(in.now())) {
        healthy.add(h);
      }
    }
    List<Host> base = healthy.size() * 2 < hosts.size() ? hosts : healthy;
    if (in.avoid().isEmpty()) {
      return base;
    }
    List<Host> fresh = new ArrayList<>(base.size());
    for (Host h : base) {
      if (!in.avoid().contains(h)) {
        fresh.add(h);
      }
    }
    return fresh.isEmpty() ? base : fresh;
  }

  private static boolean noneEjected(List<Host> hosts, long now) {
    for (Host h : hosts) {
      if (h.ejectedAt(now)) {
        return false;
      }
    }
    return true;
  }

  /** Weighted choice: the host whose share of the total weight contains {@code slot}. */
  static Host weighted(List<Host> candidates, long slot) {
    long total = 0;
    for (Host h : candidates) {
      total += h.endpoint().weight();
    }
    long s = Math.floorMod(slot, total);
    for (Host h : candidates) {
      s -= h.endpoint().weight();
      if (s < 0) {
        return h;
      }
    }
    return candidates.getLast();
  }

  /**
   * The hash-based pick (ring hash, Maglev): the slot the hash lands on, or, when some hosts are not
   * candidates (ejected, already tried), the first candidate walking on from there, so a host's keys
   * move to its successors only. Unhashed requests are spread by weight instead.
   */
  static Host byHash(Host[] slots, int start, List<Host> hosts, Input in) {
    List<Host> c = candidates(hosts, in);
    if (!in.hashed()) {
      return weighted(c, in.random().applyAsLong(totalWeight(c)));
    }
    if (c.size() == hosts.size()) {
      return slots[start];
    }
    Set<Host> usable = new HashSet<>(c);
    for (int k = 0; k < slots.length; k++) {
      Host h = slots[(start + k) % slots.length];
      if (usable.contains(h)) {
        return h;
      }
    }
    return c.getFirst();
  }

  static long totalWeight(List<Host> candidates) {
    long total = 0;
    for (Host h : candidates) {
      total += h.endpoint().weight();
    }
    return total;
  }
}
