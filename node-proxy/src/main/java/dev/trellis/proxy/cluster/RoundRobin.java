package dev.trellis.proxy.cluster;

import java.util.List;

/** Weighted round robin: the cluster's counter walks the candidates, each taking its weight in turns. */
final class RoundRobin implements LoadBalancer {

  private final List<Host> hosts;

  RoundRobin(List<Host> hosts) {
    this.hosts = List.copyOf(hosts);
  }

  @Override
  public Host pick(Input in) {
    if (hosts.isEmpty()) {
      return null;
    }
    return LoadBalancer.weighted(LoadBalancer.candidates(hosts, in), in.counter());
  }

  @Override
  public List<Host> hosts() {
    return hosts;
  }
}
