package dev.trellis.controlplane.translate;

import com.google.protobuf.UInt32Value;
import dev.trellis.controlplane.model.Mesh;
import dev.trellis.controlplane.model.Service;
import dev.trellis.controlplane.model.ServicePort;
import dev.trellis.controlplane.model.Workload;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.HealthStatus;
import io.envoyproxy.envoy.config.core.v3.Locality;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.Endpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Service port → {@link ClusterLoadAssignment}: the workloads its selector picks, grouped in one
 * locality per node (sub_zone = node name) weighted by endpoint count, each endpoint carrying its
 * workload, SPIFFE identity, node (and its address) and whether it is in the mesh as
 * {@code filter_metadata["trellis"]}.
 */
final class EndpointTranslation {

  private EndpointTranslation() {}

  static ClusterLoadAssignment endpoints(Mesh mesh, Service service, ServicePort port, List<Workload> workloads) {
    String name = XdsNames.cluster(mesh.fqdn(service), port.port());
    Map<String, LocalityLbEndpoints.Builder> byNode = new TreeMap<>();
    for (Workload w : workloads) {
      if (!w.ready() || !w.matches(service.selector())) {
        continue; // not ready: keeps its identity, takes no new traffic (as Kubernetes leaves it out of endpoints)
      }
      Map<String, Object> meta = new LinkedHashMap<>();
      meta.put("workload", w.ref().toString());
      meta.put("identity", w.identity(mesh.trustDomain()).toString());
      meta.put("node", w.node());
      // Local mode dials HBONE at the destination node's address (capture mode dials the pod's).
      mesh.node(w.node()).ifPresent(n -> meta.put("node_address", n.address()));
      meta.put("in_mesh", w.inMesh());
      LbEndpoint endpoint = LbEndpoint.newBuilder()
          .setEndpoint(Endpoint.newBuilder().setAddress(Address.newBuilder().setSocketAddress(
              SocketAddress.newBuilder().setAddress(w.address()).setPortValue(port.targetPort()))))
          .setHealthStatus(HealthStatus.HEALTHY)
          .setMetadata(Protos.metadata(meta))
          .build();
      byNode.computeIfAbsent(w.node(), n -> LocalityLbEndpoints.newBuilder()
          .setLocality(Locality.newBuilder().setSubZone(n))).addLbEndpoints(endpoint);
    }
    ClusterLoadAssignment.Builder cla = ClusterLoadAssignment.newBuilder().setClusterName(name);
    // grpc-java ignores localities without a weight; weight by endpoint count keeps per-endpoint shares equal.
    byNode.values().forEach(l -> cla.addEndpoints(l.setLoadBalancingWeight(UInt32Value.of(l.getLbEndpointsCount()))));
    return cla.build();
  }
}
