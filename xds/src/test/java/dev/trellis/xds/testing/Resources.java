package dev.trellis.xds.testing;

import dev.trellis.mesh.v1.Workload;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.Endpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteAction;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.RouteMatch;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;

/** Small Envoy resources for protocol tests. */
public final class Resources {

  private Resources() {}

  public static Cluster cluster(String name) {
    return Cluster.newBuilder().setName(name).setType(Cluster.DiscoveryType.EDS).build();
  }

  public static Cluster cluster(String name, int connectTimeoutSeconds) {
    return cluster(name).toBuilder()
        .setConnectTimeout(com.google.protobuf.Duration.newBuilder().setSeconds(connectTimeoutSeconds)).build();
  }

  public static ClusterLoadAssignment endpoints(String cluster, int... ports) {
    LocalityLbEndpoints.Builder locality = LocalityLbEndpoints.newBuilder();
    for (int port : ports) {
      locality.addLbEndpoints(LbEndpoint.newBuilder().setEndpoint(Endpoint.newBuilder().setAddress(Address.newBuilder()
          .setSocketAddress(SocketAddress.newBuilder().setAddress("127.0.0.1").setPortValue(port)))));
    }
    return ClusterLoadAssignment.newBuilder().setClusterName(cluster).addEndpoints(locality).build();
  }

  public static RouteConfiguration route(String name, String cluster) {
    return RouteConfiguration.newBuilder().setName(name).addVirtualHosts(VirtualHost.newBuilder().setName("vh")
        .addDomains("*").addRoutes(Route.newBuilder().setMatch(RouteMatch.newBuilder().setPrefix("/"))
            .setRoute(RouteAction.newBuilder().setCluster(cluster)))).build();
  }

  public static Listener listener(String name) {
    return Listener.newBuilder().setName(name).build();
  }

  /** Two clusters with endpoints, a listener and a route to c1: the starting point of the protocol tests. */
  public static dev.trellis.xds.cache.Snapshot.Builder base() {
    return dev.trellis.xds.cache.Snapshot.builder()
        .add(dev.trellis.xds.resource.ResourceType.CLUSTER, cluster("c1"))
        .add(dev.trellis.xds.resource.ResourceType.CLUSTER, cluster("c2"))
        .add(dev.trellis.xds.resource.ResourceType.ENDPOINT, endpoints("c1", 8080))
        .add(dev.trellis.xds.resource.ResourceType.ENDPOINT, endpoints("c2", 8081))
        .add(dev.trellis.xds.resource.ResourceType.LISTENER, listener("l1"))
        .add(dev.trellis.xds.resource.ResourceType.ROUTE, route("r1", "c1"));
  }

  public static Workload workload(String name, String node) {
    return Workload.newBuilder().setName(name).setNode(node).setNamespace(name.split("/")[0]).build();
  }
}
