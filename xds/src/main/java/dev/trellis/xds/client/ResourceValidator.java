package dev.trellis.xds.client;

import com.google.protobuf.Message;
import dev.trellis.xds.resource.ResourceType;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;
import io.envoyproxy.envoy.config.route.v3.WeightedCluster;

/**
 * Checks a received resource before it is applied; returns null if it is acceptable, otherwise a
 * message naming the field and the offending value (it becomes the NACK's error_detail).
 */
@FunctionalInterface
public interface ResourceValidator {

  String problemWith(Message resource);

  /** Structural checks every Trellis client needs, per type. */
  static ResourceValidator defaults(ResourceType type) {
    return switch (type) {
      case CLUSTER -> m -> cluster((Cluster) m);
      case ENDPOINT -> m -> endpoints((ClusterLoadAssignment) m);
      case ROUTE -> m -> routes((RouteConfiguration) m);
      default -> m -> null;
    };
  }

  private static String cluster(Cluster c) {
    if (c.getConnectTimeout().getSeconds() < 0 || c.getConnectTimeout().getNanos() < 0) {
      return "cluster " + c.getName() + ": connect_timeout " + c.getConnectTimeout() + " is negative";
    }
    if (c.getType() == Cluster.DiscoveryType.UNRECOGNIZED) {
      return "cluster " + c.getName() + ": type is not recognized";
    }
    return null;
  }

  private static String endpoints(ClusterLoadAssignment cla) {
    for (LocalityLbEndpoints locality : cla.getEndpointsList()) {
      for (LbEndpoint e : locality.getLbEndpointsList()) {
        var address = e.getEndpoint().getAddress().getSocketAddress();
        if (address.getAddress().isEmpty()) {
          return "cluster_load_assignment " + cla.getClusterName() + ": endpoint without address";
        }
        if (address.getPortValue() < 1 || address.getPortValue() > 65535) {
          return "cluster_load_assignment " + cla.getClusterName() + ": endpoint " + address.getAddress()
              + " port_value " + address.getPortValue() + " (expected: 1..65535)";
        }
      }
    }
    return null;
  }

  private static String routes(RouteConfiguration rc) {
    for (VirtualHost vh : rc.getVirtualHostsList()) {
      if (vh.getDomainsCount() == 0) {
        return "route_configuration " + rc.getName() + ": virtual_host " + vh.getName() + " has no domains";
      }
      for (Route r : vh.getRoutesList()) {
        if (r.hasRoute() && r.getRoute().hasWeightedClusters()) {
          WeightedCluster wc = r.getRoute().getWeightedClusters();
          long total = wc.getClustersList().stream().mapToLong(c -> c.getWeight().getValue()).sum();
          if (total == 0) {
            return "route_configuration " + rc.getName() + ": virtual_host " + vh.getName() + " route " + r.getName()
                + ": weighted_clusters weights sum to 0";
          }
        }
      }
    }
    return null;
  }
}
