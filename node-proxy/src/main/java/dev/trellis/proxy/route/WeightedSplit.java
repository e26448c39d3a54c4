package dev.trellis.proxy.route;

import java.util.List;

/** A route's traffic split as a pure function: which weighted cluster a random ticket falls into. */
public final class WeightedSplit {

  private WeightedSplit() {}

  /**
   * The weighted cluster {@code ticket} falls into: {@code ticket} in {@code [0, total weight)}, drawn
   * at random per request (HTTP) or per connection (TCP). Zero-weight clusters are never chosen.
   */
  public static String pick(List<RouteTable.WeightedCluster> clusters, int ticket) {
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
}
