package dev.trellis.proxy.state;

import dev.trellis.proxy.route.RouteTable;
import java.net.InetAddress;
import java.util.List;
import java.util.Map;

/**
 * Everything the proxy runs by, as one immutable value built from xDS (see {@link ProxyConfigs}).
 * Connections take the config current when they start; a new config never changes one in flight.
 *
 * @param localByAddress workloads on this node by each of their addresses
 * @param paths how request paths are normalized, at the source and at the destination alike
 */
public record ProxyConfig(long version, List<OutboundRule> outbound, Map<String, ClusterSpec> clusters,
    Map<String, List<EndpointSpec>> endpoints, Map<String, RouteTable> routes, Map<String, LocalWorkload> localByAddress,
    PathNormalization paths) {

  public static final ProxyConfig EMPTY = new ProxyConfig(0, List.of(), Map.of(), Map.of(), Map.of(), Map.of());

  /** A config with the default path normalization. */
  public ProxyConfig(long version, List<OutboundRule> outbound, Map<String, ClusterSpec> clusters,
      Map<String, List<EndpointSpec>> endpoints, Map<String, RouteTable> routes, Map<String, LocalWorkload> localByAddress) {
    this(version, outbound, clusters, endpoints, routes, localByAddress, PathNormalization.DEFAULTS);
  }

  public ProxyConfig {
    java.util.Objects.requireNonNull(paths, "paths");
    outbound = List.copyOf(outbound);
    clusters = Map.copyOf(clusters);
    endpoints = Map.copyOf(endpoints);
    routes = Map.copyOf(routes);
    localByAddress = Map.copyOf(localByAddress);
  }

  /** The outbound rule for a destination, most specific prefix first; null when it is not a mesh service. */
  public OutboundRule findOutbound(InetAddress address, int port) {
    OutboundRule best = null;
    for (OutboundRule r : outbound) {
      if (r.matches(address, port) && (best == null || r.destination().prefixLength() > best.destination().prefixLength())) {
        best = r;
      }
    }
    return best;
  }

  /** The local workload at {@code address} (any textual form of the IP). */
  public LocalWorkload findLocal(String address) {
    LocalWorkload w = localByAddress.get(address);
    return w != null ? w : localByAddress.get(ProxyConfigs.normalize(address));
  }

  public List<EndpointSpec> findEndpoints(String cluster) {
    return endpoints.getOrDefault(cluster, List.of());
  }
}
