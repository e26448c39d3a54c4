package dev.trellis.proxy.route;

import java.util.function.Function;
import java.util.function.IntUnaryOperator;

/**
 * Where one HTTP request goes: the route table's rule for its authority, path and headers, then a
 * cluster drawn by weight. Pure; the caller supplies the ticket draw.
 */
public final class RequestRouting {

  private RequestRouting() {}

  /** The outcome of routing. */
  public sealed interface Decision {}

  /** Forward with {@code rule}'s action to {@code cluster}. */
  public record Forward(RouteTable.Rule rule, String cluster) implements Decision {}

  /** No rule matched: the proxy answers 404 with this reason. */
  public record NoRoute(String reason) implements Decision {}

  /**
   * @param header request headers by lower-case name, with {@code :method}, {@code :path} and
   *     {@code :authority} answering too (route matches may name them)
   * @param ticket draws a value in {@code [0, bound)} for the weighted split
   */
  public static Decision decide(RouteTable table, String authority, String path, Function<String, String> header,
      IntUnaryOperator ticket) {
    if (table == null) {
      return new NoRoute("route configuration not received yet");
    }
    RouteTable.Rule rule = table.find(authority, path, header);
    if (rule == null) {
      return new NoRoute("no route of " + table.name() + " matches " + authority + path);
    }
    RouteTable.Action a = rule.action();
    if (a.clusters().size() == 1) {
      return new Forward(rule, a.clusters().getFirst().cluster()); // the common case: no split to draw
    }
    int total = a.totalWeight();
    String cluster = total <= 0 ? a.clusters().getFirst().cluster()
        : WeightedSplit.pick(a.clusters(), ticket.applyAsInt(total));
    return new Forward(rule, cluster);
  }
}
