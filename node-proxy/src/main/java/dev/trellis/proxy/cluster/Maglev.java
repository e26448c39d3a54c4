package dev.trellis.proxy.cluster;

import java.util.Arrays;
import java.util.List;

/**
 * Maglev consistent hashing: a lookup table of prime size filled by each host's own permutation
 * (offset and skip from two hashes of its address), a host taking as many turns per round as its
 * weight. A request goes to {@code table[hash mod size]}; when that host is ejected or already tried,
 * the following entries are tried in order. No hash: a random candidate.
 */
final class Maglev implements LoadBalancer {

  static final int TABLE_SIZE = 65537;

  private final List<Host> hosts;
  private final Host[] table;

  Maglev(List<Host> hosts, int tableSize) {
    this.hosts = List.copyOf(hosts);
    this.table = new Host[hosts.isEmpty() ? 0 : tableSize];
    if (hosts.isEmpty()) {
      return;
    }
    int n = this.hosts.size();
    long[] offset = new long[n];
    long[] skip = new long[n];
    long[] next = new long[n];
    for (int i = 0; i < n; i++) {
      String key = this.hosts.get(i).key();
      offset[i] = Long.remainderUnsigned(Hashing.hash(key), tableSize);
      skip[i] = Long.remainderUnsigned(Hashing.hash(key + "#skip"), tableSize - 1) + 1;
    }
    int filled = 0;
    int[] owner = new int[tableSize];
    Arrays.fill(owner, -1);
    outer:
    while (true) {
      for (int i = 0; i < n; i++) {
        for (int turn = 0; turn < this.hosts.get(i).endpoint().weight(); turn++) {
          int c = (int) ((offset[i] + next[i] * skip[i]) % tableSize);
          while (owner[c] >= 0) {
            next[i]++;
            c = (int) ((offset[i] + next[i] * skip[i]) % tableSize);
          }
          owner[c] = i;
          next[i]++;
          if (++filled == tableSize) {
            break outer;
          }
        }
      }
    }
    for (int i = 0; i < tableSize; i++) {
      table[i] = this.hosts.get(owner[i]);
    }
  }

  @Override
  public Host pick(Input in) {
    if (hosts.isEmpty()) {
      return null;
    }
    return LoadBalancer.byHash(table, in.hashed() ? (int) Long.remainderUnsigned(in.hash(), table.length) : 0, hosts,
        in);
  }

  @Override
  public List<Host> hosts() {
    return hosts;
  }
}
