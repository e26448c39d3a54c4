package dev.trellis.proxy.state;

import dev.trellis.proxy.route.RouteTable;
import java.net.InetAddress;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Everything the proxy runs by, as one immutable value built from xDS (see {@link ProxyConfigs}).
 * Connections take the config current when they start; a new config never changes one in flight.
 *
 * @param localByAddress workloads on this node by each of their addresses
 * @param egressAllow destinations captured pods may reach by passthrough although they are link-local or the
 *     node's own (the mesh's {@code egress.allowCidrs}, on the passthrough filter chain)
 * @param paths how request paths are normalized, at the source and at the destination alike
 * @param meshWorkloads the mesh's workloads by address (port 0): every in-mesh endpoint of EDS and this node's in-mesh
 *     workloads; null derives it from {@code endpoints} and {@code localByAddress}
 */
public record ProxyConfig(long version, List<OutboundRule> outbound, Map<String, ClusterSpec> clusters,
    Map<String, List<EndpointSpec>> endpoints, Map<String, RouteTable> routes, Map<String, LocalWorkload> localByAddress,
    List<Cidr> egressAllow, PathNormalization paths, Map<String, EndpointSpec> meshWorkloads) {

  public static final ProxyConfig EMPTY = new ProxyConfig(0, List.of(), Map.of(), Map.of(), Map.of(), Map.of());

  /** A config without an egress allow-list and with the default path normalization. */
  public ProxyConfig(long version, List<OutboundRule> outbound, Map<String, ClusterSpec> clusters,
      Map<String, List<EndpointSpec>> endpoints, Map<String, RouteTable> routes, Map<String, LocalWorkload> localByAddress) {
    this(version, outbound, clusters, endpoints, routes, localByAddress, List.of(), PathNormalization.DEFAULTS);
  }

  /** A config with the default path normalization. */
  public ProxyConfig(long version, List<OutboundRule> outbound, Map<String, ClusterSpec> clusters,
      Map<String, List<EndpointSpec>> endpoints, Map<String, RouteTable> routes, Map<String, LocalWorkload> localByAddress,
      List<Cidr> egressAllow) {
    this(version, outbound, clusters, endpoints, routes, localByAddress, egressAllow, PathNormalization.DEFAULTS);
  }

  /** A config without an egress allow-list. */
  public ProxyConfig(long version, List<OutboundRule> outbound, Map<String, ClusterSpec> clusters,
      Map<String, List<EndpointSpec>> endpoints, Map<String, RouteTable> routes, Map<String, LocalWorkload> localByAddress,
      PathNormalization paths) {
    this(version, outbound, clusters, endpoints, routes, localByAddress, List.of(), paths);
  }

  /** A config whose mesh workloads by address are derived from its endpoints and local workloads. */
  public ProxyConfig(long version, List<OutboundRule> outbound, Map<String, ClusterSpec> clusters,
      Map<String, List<EndpointSpec>> endpoints, Map<String, RouteTable> routes, Map<String, LocalWorkload> localByAddress,
      List<Cidr> egressAllow, PathNormalization paths) {
    this(version, outbound, clusters, endpoints, routes, localByAddress, egressAllow, paths, null);
  }

  public ProxyConfig {
    Objects.requireNonNull(paths, "paths");
    egressAllow = List.copyOf(egressAllow);
    outbound = List.copyOf(outbound);
    clusters = Map.copyOf(clusters);
    endpoints = Map.copyOf(endpoints);
    routes = Map.copyOf(routes);
    localByAddress = Map.copyOf(localByAddress);
    meshWorkloads = meshWorkloads != null ? Map.copyOf(meshWorkloads) : meshWorkloads(endpoints, localByAddress, null);
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

  /** Whether the allow-list names {@code address} (a destination otherwise refused to captured pods). */
  public boolean egressAllows(InetAddress address) {
    for (Cidr c : egressAllow) {
      if (c.contains(address)) {
        return true;
      }
    }
    return false;
  }

  /**
   * The in-mesh workload at {@code address}, as an endpoint on {@code port}: a connection dialed straight at a mesh
   * workload's own address is tunneled to it like service traffic, so its mTLS mode and policies apply. Null when
   * no workload of the mesh has that address.
   */
  public EndpointSpec findMeshWorkload(InetAddress address, int port) {
    EndpointSpec ep = meshWorkloads.get(address.getHostAddress());
    return ep == null ? null : ep.withPort(port);
  }

  /**
   * Every in-mesh endpoint of {@code endpoints} by its address (normalized), then this node's in-mesh workloads that
   * no endpoint names, placed on {@code localNode}.
   */
  public static Map<String, EndpointSpec> meshWorkloads(Map<String, List<EndpointSpec>> endpoints,
      Map<String, LocalWorkload> localByAddress, String localNode) {
    Map<String, EndpointSpec> out = new HashMap<>();
    for (List<EndpointSpec> eps : endpoints.values()) {
      for (EndpointSpec ep : eps) {
        if (ep.inMesh() && ep.identity() != null) {
          out.putIfAbsent(ProxyConfigs.normalize(ep.address()), ep.withPort(0));
        }
      }
    }
    localByAddress.forEach((address, w) -> {
      if (w.inMesh()) {
        out.putIfAbsent(ProxyConfigs.normalize(address),
            new EndpointSpec(address, 0, w.identity(), localNode, null, true, w.name(), localNode, 1));
      }
    });
    return Map.copyOf(out);
  }

  public List<EndpointSpec> findEndpoints(String cluster) {
    return endpoints.getOrDefault(cluster, List.of());
  }
}
