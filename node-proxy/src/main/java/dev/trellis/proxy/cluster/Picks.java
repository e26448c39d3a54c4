package dev.trellis.proxy.cluster;

import dev.trellis.proxy.route.RouteTable;
import dev.trellis.proxy.state.EndpointSpec;
import java.util.List;

/** Load-balancing and traffic-split choices as pure functions of their inputs. */
public final class Picks {

  private Picks() {}

  /**
   * The weighted cluster {@code ticket} falls into: {@code ticket} in {@code [0, total weight)}, drawn
   * at random per request (HTTP) or per connection (TCP). Zero-weight clusters are never chosen.
   */
  public static String weighted(List<RouteTable.WeightedCluster> clusters, int ticket) {
    int total = clusters.stream().mapToInt(RouteTable.WeightedCluster::weight).sum();
    if (clusters.size() == 1 || total == 0) {
      return clusters.getFirst().cluster();
    }
    if (ticket < 0 || ticket >= total) {
      throw new IllegalArgumentException("ticket: " + ticket + " (expected: 0.." + (total - 1) + ")");
    }
    int acc = 0;
    for (RouteTable.WeightedCluster c : clusters) {
      acc += c.weight();
      if (ticket < acc) {
        return c.cluster();
      }
    }
    return clusters.getLast().cluster();
  }

  /** Weighted round robin over endpoints: the {@code counter}-th pick (endpoint weights expand its share). */
  public static EndpointSpec roundRobin(List<EndpointSpec> endpoints, long counter) {
    int total = endpoints.stream().mapToInt(EndpointSpec::weight).sum();
    long slot = Math.floorMod(counter, (long) total);
    for (EndpointSpec e : endpoints) {
      slot -= e.weight();
      if (slot < 0) {
        return e;
      }
    }
    return endpoints.getLast();
  }
}
