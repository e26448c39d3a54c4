package dev.trellis.proxy.outbound;

import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.proxy.state.OutboundRule;
import dev.trellis.proxy.state.ProxyConfig;
import java.net.InetAddress;

/**
 * What to do with one outbound connection, decided from values only: the source must be a workload
 * of this node; a destination that is no mesh service leaves as it came (passthrough); a mesh
 * service's filter chain says L7 (HTTP, routed per request) or L4 (TCP to a cluster).
 */
public sealed interface OutboundDecision {

  /** Parse HTTP and route each request with {@code routeConfig}. */
  record Http(LocalWorkload source, String routeConfig, String service) implements OutboundDecision {}

  /** Proxy the connection's bytes to an endpoint of {@code cluster}. */
  record Tcp(LocalWorkload source, String cluster, String service) implements OutboundDecision {}

  /** Not a mesh service: connect straight to where the client was going. */
  record Passthrough(String address, int port) implements OutboundDecision {}

  /** Refuse, with a reason an operator can act on. */
  record Refuse(String reason) implements OutboundDecision {}

  /**
   * @param destination the original destination address, or null when the client named the service
   *     ({@code destinationName} = its fqdn)
   */
  static OutboundDecision decide(String sourceAddress, InetAddress destination, int port, String destinationName,
      ProxyConfig config) {
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
      return new Passthrough(destination.getHostAddress(), port);
    }
    return switch (rule.target()) {
      case OutboundRule.Tcp t -> new Tcp(source, t.cluster(), rule.name());
      case OutboundRule.Http h -> new Http(source, h.routeConfig(), rule.name());
    };
  }
}
