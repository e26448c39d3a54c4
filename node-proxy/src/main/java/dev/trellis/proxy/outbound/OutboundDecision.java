package dev.trellis.proxy.outbound;

import dev.trellis.proxy.egress.EgressFacts;
import dev.trellis.proxy.egress.Via;
import dev.trellis.proxy.entry.Arrival;
import dev.trellis.proxy.refusal.Refusal;
import dev.trellis.proxy.state.Cidr;
import dev.trellis.proxy.state.EndpointSpec;
import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.proxy.state.OutboundRule;
import dev.trellis.proxy.state.ProxyConfig;
import java.net.InetAddress;

/**
 * What to do with one outbound connection, decided from values only: the source must be a workload
 * of this node; a destination that is no mesh service leaves as it came (passthrough); a mesh
 * service's filter chain says L7 (HTTP, routed per request) or L4 (TCP to a cluster).
 *
 * <p>Passthrough of a captured pod (eBPF or TPROXY) leaves with the pod's address, never the node's: from inside
 * the pod's network namespace when eBPF redirected it and the proxy can enter namespaces, else from the node with
 * the pod's address ({@link Via}). Captured pods may not reach link-local destinations (169.254.0.0/16, fe80::/10:
 * cloud metadata servers, node-local services) or the node's own addresses through the proxy, unless the mesh's
 * egress allow-list names them. Connections through the local entry keep leaving from the node, unrestricted.
 *
 * <p>A destination that is no service but the address of a workload in the mesh (a pod dialed by its IP, as headless
 * services and StatefulSets do) is never passthrough: it is tunneled to that workload over HBONE as the source's
 * identity, like service traffic, so the destination's mTLS mode and authorization apply. Passed through in
 * plaintext, a pod of the same node would be reached from the node's own namespace, where no capture sees it: a
 * way around STRICT.
 */
public sealed interface OutboundDecision {

  Cidr LINK_LOCAL_4 = Cidr.of("169.254.0.0", 16);
  Cidr LINK_LOCAL_6 = Cidr.of("fe80::", 10);

  /** Parse HTTP and route it with {@code routeConfig}. */
  record Http(LocalWorkload source, String routeConfig, String service) implements OutboundDecision {}

  /** Proxy the connection's bytes to an endpoint of {@code cluster}. */
  record Tcp(LocalWorkload source, String cluster, String service) implements OutboundDecision {}

  /**
   * A workload of the mesh dialed by its own address: tunnel to {@code target} over HBONE as {@code source}
   * (plaintext only when the source is outside the mesh).
   */
  record MeshWorkload(LocalWorkload source, EndpointSpec target) implements OutboundDecision {}

  /**
   * Not a mesh service: connect straight to where the client was going, leaving {@code via} the node or the pod
   * at {@code source}.
   */
  record Passthrough(String address, int port, String source, Via via) implements OutboundDecision {}

  /** Refuse, with a reason an operator can act on; {@code refusal} is its label in the refusal counter and log. */
  record Refuse(String reason, Refusal refusal) implements OutboundDecision {}

  /** A connection through the local entry (no capture). */
  static OutboundDecision decide(String sourceAddress, InetAddress destination, int port, String destinationName,
      ProxyConfig config) {
    return decide(sourceAddress, destination, port, destinationName, config, Arrival.ENTRY, EgressFacts.NONE);
  }

  /**
   * @param destination the original destination address, or null when the client named the service
   *     ({@code destinationName} = its fqdn)
   * @param arrival how the connection reached the proxy
   * @param node this node's addresses and whether pods' namespaces can be entered
   */
  static OutboundDecision decide(String sourceAddress, InetAddress destination, int port, String destinationName,
      ProxyConfig config, Arrival arrival, EgressFacts node) {
    LocalWorkload source = config.findLocal(sourceAddress);
    if (source == null) {
      return new Refuse("source " + sourceAddress + " is not a workload on this node", Refusal.UNKNOWN_SOURCE);
    }
    OutboundRule rule = destination != null ? config.findOutbound(destination, port)
        : config.outbound().stream().filter(r -> r.name().equals(destinationName + ":" + port)).findFirst().orElse(null);
    if (rule == null) {
      if (destination == null) {
        return new Refuse("'" + destinationName + "' is not a mesh service (use an IP address or <service fqdn>)",
            Refusal.UNKNOWN_SERVICE);
      }
      EndpointSpec workload = config.findMeshWorkload(destination, port);
      if (workload != null) {
        return new MeshWorkload(source, workload);
      }
      return passthrough(sourceAddress, destination, port, config, arrival, node);
    }
    return switch (rule.target()) {
      case OutboundRule.Tcp t -> new Tcp(source, t.cluster(), rule.name());
      case OutboundRule.Http h -> new Http(source, h.routeConfig(), rule.name());
    };
  }

  private static OutboundDecision passthrough(String source, InetAddress destination, int port, ProxyConfig config,
      Arrival arrival, EgressFacts node) {
    String to = destination.getHostAddress();
    if (arrival == Arrival.ENTRY) {
      return new Passthrough(to, port, source, Via.NODE);
    }
    if (!config.egressAllows(destination)) {
      String what = null;
      Refusal kind = null;
      if (LINK_LOCAL_4.contains(destination) || LINK_LOCAL_6.contains(destination)) {
        what = "is link-local (" + (LINK_LOCAL_4.contains(destination) ? "169.254.0.0/16" : "fe80::/10")
            + ": cloud metadata and node-local services)";
        kind = Refusal.LINK_LOCAL;
      } else if (destination.isLoopbackAddress() || destination.isAnyLocalAddress()
          || node.nodeAddresses().contains(destination)) {
        what = "is an address of this node";
        kind = Refusal.NODE_ADDRESS;
      }
      if (what != null) {
        return new Refuse("destination " + to + " " + what + ": captured pods may not reach it through the node proxy;"
            + " if they must, add it to egress.allowCidrs (mesh file) or the chart value egress.allowCidrs", kind);
      }
    }
    Via via = arrival == Arrival.EBPF && node.podNetns() ? Via.POD_NETNS : Via.POD_ADDRESS;
    return new Passthrough(to, port, source, via);
  }
}
