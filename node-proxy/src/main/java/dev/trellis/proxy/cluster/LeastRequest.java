package dev.trellis.proxy.cluster;

import java.util.List;

/**
 * Least request by the power of two choices: draw two candidates at random (by weight), take the one
 * with fewer requests in flight (the first on a tie).
 */
final class LeastRequest implements LoadBalancer {

  private final List<Host> hosts;

  LeastRequest(List<Host> hosts) {
    this.hosts = List.copyOf(hosts);
  }

  @Override
  public Host pick(Input in) {
    if (hosts.isEmpty()) {
      return null;
    }
    List<Host> c = LoadBalancer.candidates(hosts, in);
    if (c.size() == 1) {
      return c.getFirst();
    }
    long total = LoadBalancer.totalWeight(c);
    Host a = LoadBalancer.weighted(c, in.random().applyAsLong(total));
    Host b = LoadBalancer.weighted(c, in.random().applyAsLong(total));
    return b.active() < a.active() ? b : a;
  }

  @Override
  public List<Host> hosts() {
    return hosts;
  }
}
