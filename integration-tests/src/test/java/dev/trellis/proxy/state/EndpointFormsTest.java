package dev.trellis.proxy.state;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.controlplane.config.MeshFile;
import dev.trellis.controlplane.translate.Translator;
import dev.trellis.mtls.svid.TrustBundle;
import dev.trellis.xds.cache.Snapshot;
import dev.trellis.xds.resource.ClientKind;
import dev.trellis.xds.resource.ResourceType;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The node proxy reads what the control plane writes: the endpoints a node proxy of this version is served (compact
 * form) and those a node proxy built before it is served (every fact on each endpoint) read as the same endpoints, and
 * this proxy reads both, so control plane and node proxies can be upgraded in either order.
 */
class EndpointFormsTest {

  static final String MESH = """
      trustDomain: cluster.local
      nodes:
        - {name: node-1, address: 127.0.1.1, token: token-node-1-0000}
        - {name: node-2, address: 127.0.2.1, token: token-node-2-0000}
      workloads:
        - {name: web-0, namespace: d, serviceAccount: web, node: node-1, address: 127.0.1.10, labels: {app: web}}
        - {name: web-1, namespace: d, serviceAccount: web, node: node-1, address: 127.0.1.11, labels: {app: web}}
        - {name: web-2, namespace: d, serviceAccount: web-v2, node: node-2, address: 127.0.2.10, labels: {app: web}}
        - {name: web-3, namespace: d, serviceAccount: web, node: node-2, address: 127.0.2.11, labels: {app: web},
           inMesh: false}
      services:
        - {name: web, namespace: d, vip: 10.96.0.10, selector: {app: web}, ports: [{name: http, port: 80, targetPort: 8080}]}
      """;

  static final String CLUSTER = "outbound|80||web.d.svc.cluster.local";

  @Test
  void compactAndEarlierEndpointFormsReadAsTheSameEndpoints() throws Exception {
    Snapshot s = Translator.translate(MeshFile.parse(MESH, "mesh.yaml", Path.of(".")), TrustBundle.empty());
    ClusterLoadAssignment compact = (ClusterLoadAssignment) ResourceType.ENDPOINT.unpack(
        s.view(ResourceType.ENDPOINT, "node-1", ClientKind.NODE_PROXY).get(CLUSTER).body());
    ClusterLoadAssignment earlier = (ClusterLoadAssignment) ResourceType.ENDPOINT.unpack(
        s.view(ResourceType.ENDPOINT, "node-1", ClientKind.LEGACY_NODE_PROXY).get(CLUSTER).body());

    List<EndpointSpec> fromCompact = ProxyConfigs.endpoints(compact);

    assertThat(fromCompact).extracting(e -> e.hostPort() + " " + e.identity() + " " + e.node() + " " + e.nodeAddress()
            + " " + e.inMesh() + " " + e.workload() + " " + e.locality() + " " + e.weight())
        .containsExactly(
            "127.0.1.10:8080 spiffe://cluster.local/ns/d/sa/web node-1 127.0.1.1 true d/web-0 node-1 1",
            "127.0.1.11:8080 spiffe://cluster.local/ns/d/sa/web node-1 127.0.1.1 true d/web-1 node-1 1",
            "127.0.2.10:8080 spiffe://cluster.local/ns/d/sa/web-v2 node-2 127.0.2.1 true d/web-2 node-2 1",
            "127.0.2.11:8080 spiffe://cluster.local/ns/d/sa/web node-2 127.0.2.1 false d/web-3 node-2 1");
    assertThat(ProxyConfigs.endpoints(earlier)).isEqualTo(fromCompact);
    assertThat(compact.getSerializedSize()).isLessThan(earlier.getSerializedSize());
  }
}
