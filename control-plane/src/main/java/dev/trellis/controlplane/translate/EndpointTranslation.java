package dev.trellis.controlplane.translate;

import com.google.protobuf.UInt32Value;
import dev.trellis.controlplane.model.Mesh;
import dev.trellis.controlplane.model.Service;
import dev.trellis.controlplane.model.ServicePort;
import dev.trellis.controlplane.model.Workload;
import dev.trellis.xds.cache.Snapshot;
import dev.trellis.xds.resource.ClientKind;
import dev.trellis.xds.resource.ResourceType;
import dev.trellis.xds.resource.XdsResource;
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
 * Service port → {@link ClusterLoadAssignment}: the workloads its selector picks, grouped in one locality per node
 * (sub_zone = node name) weighted by endpoint count.
 *
 * <p>Compact form (every client but a {@link ClientKind#LEGACY_NODE_PROXY}): a fact about a node is stated once per
 * locality, not per endpoint. Each endpoint's {@code filter_metadata["trellis"]} holds its {@code workload} and SPIFFE
 * {@code identity}, and {@code in_mesh: false} only for a workload outside the mesh (absent means true); its node is
 * the locality's {@code sub_zone}, the node's address the locality's {@code filter_metadata["trellis"].node_address}.
 * The earlier form ({@link #legacy}) states workload, identity, node, node_address and in_mesh on every endpoint.
 */
final class EndpointTranslation {

  private EndpointTranslation() {}

  static ClusterLoadAssignment endpoints(Mesh mesh, Service service, ServicePort port, List<Workload> workloads) {
    return assignment(mesh, service, port, workloads, Form.COMPACT);
  }

  /** The same endpoints in the earlier form, for node proxies built before the compact one. */
  static Snapshot.Variant legacy(Mesh mesh, Service service, ServicePort port, List<Workload> workloads) {
    return new Snapshot.Variant(XdsResource.of(ResourceType.ENDPOINT,
        assignment(mesh, service, port, workloads, Form.LEGACY)),
        "every fact on each endpoint: this node proxy does not announce " + ClientKind.COMPACT_ENDPOINTS);
  }

  private enum Form { COMPACT, LEGACY }

  private static ClusterLoadAssignment assignment(Mesh mesh, Service service, ServicePort port,
      List<Workload> workloads, Form form) {
    String name = XdsNames.cluster(mesh.fqdn(service), port.port());
    Map<String, LocalityLbEndpoints.Builder> byNode = new TreeMap<>();
    for (Workload w : workloads) {
      if (!w.ready() || !w.matches(service.selector())) {
        continue; // not ready: keeps its identity, takes no new traffic (as Kubernetes leaves it out of endpoints)
      }
      // Local mode dials HBONE at the destination node's address (capture mode dials the pod's).
      String nodeAddress = mesh.node(w.node()).map(n -> n.address()).orElse(null);
      Map<String, Object> meta = new LinkedHashMap<>();
      meta.put("workload", w.ref().toString());
      meta.put("identity", w.identity(mesh.trustDomain()).toString());
      if (form == Form.LEGACY) {
        meta.put("node", w.node());
        if (nodeAddress != null) {
          meta.put("node_address", nodeAddress);
        }
        meta.put("in_mesh", w.inMesh());
      } else if (!w.inMesh()) {
        meta.put("in_mesh", false);
      }
      LbEndpoint endpoint = LbEndpoint.newBuilder()
          .setEndpoint(Endpoint.newBuilder().setAddress(Address.newBuilder().setSocketAddress(
              SocketAddress.newBuilder().setAddress(w.address()).setPortValue(port.targetPort()))))
          .setHealthStatus(HealthStatus.HEALTHY)
          .setMetadata(Protos.metadata(meta))
          .build();
      byNode.computeIfAbsent(w.node(), n -> {
        LocalityLbEndpoints.Builder l = LocalityLbEndpoints.newBuilder().setLocality(Locality.newBuilder().setSubZone(n));
        if (form == Form.COMPACT && nodeAddress != null) {
          l.setMetadata(Protos.metadata(Map.of("node_address", nodeAddress)));
        }
        return l;
      }).addLbEndpoints(endpoint);
    }
    ClusterLoadAssignment.Builder cla = ClusterLoadAssignment.newBuilder().setClusterName(name);
    // grpc-java ignores localities without a weight; weight by endpoint count keeps per-endpoint shares equal.
    byNode.values().forEach(l -> cla.addEndpoints(l.setLoadBalancingWeight(UInt32Value.of(l.getLbEndpointsCount()))));
    return cla.build();
  }
}
