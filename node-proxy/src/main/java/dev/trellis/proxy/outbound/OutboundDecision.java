package dev.trellis.proxy.outbound;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.proxy.cluster.Picks;
import dev.trellis.proxy.route.RouteTable;
import dev.trellis.proxy.state.EndpointSpec;
import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.proxy.state.OutboundRule;
import dev.trellis.proxy.state.ProxyConfig;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.function.IntUnaryOperator;
import java.util.function.ToLongFunction;

/**
 * Where one outbound connection goes, decided from values only: the source must be a workload of
 * this node; a destination that is no mesh service leaves as it came (passthrough); a mesh service
 * picks a cluster (weighted per connection), an endpoint (round robin), and reaches it over HBONE as
 * the source workload when both ends are in the mesh, else directly.
 *
 * <p>HTTP services are handled at L4 here (their catch-all route's weighted split, per connection)
 * until the L7 path exists.
 */
public sealed interface OutboundDecision {

  /** Tunnel to {@code authority} via the node proxy at {@code dial}, presenting {@code source}'s SVID. */
  record Hbone(SpiffeId source, SpiffeId destination, InetSocketAddress dial, String authority, String cluster)
      implements OutboundDecision {}

  /** Connect straight to the address (passthrough, or an endpoint outside the mesh). */
  record Direct(String address, int port, String cluster) implements OutboundDecision {}

  /** Refuse, with a reason an operator can act on. */
  record Refuse(String reason) implements OutboundDecision {}

  /**
   * @param ticket draws a weighted-split ticket in {@code [0, bound)}
   * @param counter the next round-robin count of a cluster
   */
  static OutboundDecision decide(String sourceAddress, InetAddress destination, int port, String destinationName,
      ProxyConfig config, IntUnaryOperator ticket, ToLongFunction<String> counter, int hbonePort) {
    LocalWorkload source = config.findLocal(sourceAddress);
    if (source == null) {
      return new Refuse("source " + sourceAddress + " is not a workload on this node");
    }
    OutboundRule rule = destination != null ? config.findOutbound(destination, port)
        : config.outbound().stream().filter(r -> r.name().equals(destinationName + ":" + port)).findFirst().orElse(null);
    if (rule == null) {
      if (destination == null) {
        return new Refuse("'" + destinationName + "' is not a mesh service (use an IP address or <service fqdn>)");
      }
      return new Direct(destination.getHostAddress(), port, null);
    }
    String cluster = switch (rule.target()) {
      case OutboundRule.Tcp t -> t.cluster();
      case OutboundRule.Http h -> httpCluster(config, h.routeConfig(), rule, port, ticket);
    };
    if (cluster == null) {
      return new Refuse("service " + rule.name() + " has no route for '/'");
    }
    List<EndpointSpec> endpoints = config.findEndpoints(cluster);
    if (endpoints.isEmpty()) {
      return new Refuse("no endpoints for " + cluster + " (no ready workload backs the service)");
    }
    EndpointSpec ep = Picks.roundRobin(endpoints, counter.applyAsLong(cluster));
    if (ep.inMesh() && source.inMesh()) {
      String dialHost = ep.nodeAddress() != null ? ep.nodeAddress() : ep.address();
      return new Hbone(source.identity(), ep.identity(), new InetSocketAddress(dialHost, hbonePort), ep.hostPort(), cluster);
    }
    return new Direct(ep.address(), ep.port(), cluster);
  }

  private static String httpCluster(ProxyConfig config, String routeConfig, OutboundRule rule, int port,
      IntUnaryOperator ticket) {
    RouteTable table = config.routes().get(routeConfig);
    if (table == null) {
      return null;
    }
    String authority = rule.name();
    RouteTable.Rule r = table.find(authority, "/", name -> null);
    if (r == null && !table.virtualHosts().isEmpty() && !table.virtualHosts().getFirst().rules().isEmpty()) {
      r = table.virtualHosts().getFirst().rules().getLast();
    }
    if (r == null) {
      return null;
    }
    int total = r.action().totalWeight();
    return Picks.weighted(r.action().clusters(), total <= 0 ? 0 : ticket.applyAsInt(total));
  }
}
