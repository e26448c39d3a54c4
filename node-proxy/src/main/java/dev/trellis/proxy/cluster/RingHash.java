package dev.trellis.proxy.cluster;

import java.util.Arrays;
import java.util.List;

/**
 * Consistent hashing on a ring: each host owns {@link #POINTS_PER_WEIGHT} entries per unit of weight
 * (fewer only if the ring would pass {@link #MAX_RING_SIZE}); a request goes to the owner of the first
 * entry at or after its hash. A host's entries depend on nothing but its own address and weight, so
 * adding or removing a host moves only the keys that host gains or loses. When that host is ejected or already tried, the walk goes on to the next usable owner, so
 * only that host's requests move. A request without a hash (its header is absent) goes to a random
 * candidate.
 */
final class RingHash implements LoadBalancer {

  static final int POINTS_PER_WEIGHT = 160;
  static final int MAX_RING_SIZE = 8 * 1024 * 1024;

  private final List<Host> hosts;
  private final long[] ring;
  private final Host[] owners;

  RingHash(List<Host> hosts) {
    this.hosts = List.copyOf(hosts);
    long total = LoadBalancer.totalWeight(this.hosts);
    int size = 0;
    int[] per = new int[this.hosts.size()];
    for (int i = 0; i < per.length; i++) {
      long w = this.hosts.get(i).endpoint().weight();
      per[i] = (int) (total * POINTS_PER_WEIGHT <= MAX_RING_SIZE ? w * POINTS_PER_WEIGHT
          : Math.max(1, (long) MAX_RING_SIZE * w / total));
      size += per[i];
    }
    long[][] entries = new long[size][];
    int n = 0;
    for (int i = 0; i < per.length; i++) {
      String key = this.hosts.get(i).key();
      for (int j = 0; j < per[i]; j++) {
        entries[n++] = new long[] {Hashing.hash(key + "_" + j), i};
      }
    }
    Arrays.sort(entries, (a, b) -> Long.compareUnsigned(a[0], b[0]));
    ring = new long[size];
    owners = new Host[size];
    for (int i = 0; i < size; i++) {
      ring[i] = entries[i][0];
      owners[i] = this.hosts.get((int) entries[i][1]);
    }
  }

  @Override
  public Host pick(Input in) {
    if (hosts.isEmpty()) {
      return null;
    }
    return LoadBalancer.byHash(owners, in.hashed() ? firstAtOrAfter(in.hash()) : 0, hosts, in);
  }

  private int firstAtOrAfter(long hash) {
    int lo = 0;
    int hi = ring.length;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (Long.compareUnsigned(ring[mid], hash) < 0) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo == ring.length ? 0 : lo;
  }

  int ringSize() {
    return ring.length;
  }

  @Override
  public List<Host> hosts() {
    return hosts;
  }
}
