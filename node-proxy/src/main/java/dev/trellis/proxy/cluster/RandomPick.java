package dev.trellis.proxy.cluster;

import java.util.List;

/** Weighted random choice among the candidates. */
final class RandomPick implements LoadBalancer {

  private final List<Host> hosts;

  RandomPick(List<Host> hosts) {
    this.hosts = List.copyOf(hosts);
  }

  @Override
  public Host pick(Input in) {
    if (hosts.isEmpty()) {
      return null;
    }
    List<Host> c = LoadBalancer.candidates(hosts, in);
    return LoadBalancer.weighted(c, in.random().applyAsLong(LoadBalancer.totalWeight(c)));
  }

  @Override
  public List<Host> hosts() {
    return hosts;
  }
}
