package dev.trellis.controlplane.translate;

import static dev.trellis.controlplane.translate.TranslationFixtures.HTTP_80;
import static dev.trellis.controlplane.translate.TranslationFixtures.mesh;
import static dev.trellis.controlplane.translate.TranslationFixtures.service;
import static dev.trellis.controlplane.translate.TranslationFixtures.workload;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import dev.trellis.controlplane.model.Service;
import dev.trellis.controlplane.model.Workload;
import dev.trellis.xds.cache.Snapshot;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link EndpointTranslation}: the selected workloads → one locality per node, as "node: address:port ..." rows,
 * plus the Trellis metadata each endpoint carries.
 */
class EndpointTranslationTest {

  static final Service WEB = service("web", "10.96.0.10", HTTP_80);

  static Workload notReady(Workload w) {
    return new Workload(w.name(), w.namespace(), w.serviceAccount(), w.node(), w.address(), w.labels(), w.inMesh(), false,
        w.mtls());
  }

  record Case(String name, List<Workload> workloads, List<String> expected) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Stream<Case> cases() {
    Workload a = workload("web-a", "web", "n2", "10.1.2.1");
    Workload b = workload("web-b", "web", "n1", "10.1.1.1");
    Workload c = workload("web-c", "web", "n2", "10.1.2.2");
    return Stream.of(
        new Case("nothing selected: an assignment without endpoints", List.of(), List.of()),
        new Case("one locality per node, sorted by node, weighted by its endpoint count, at the target port",
            List.of(a, b, c), List.of("n1 weight 1: 10.1.1.1:8080", "n2 weight 2: 10.1.2.1:8080 10.1.2.2:8080")),
        new Case("a workload that is not ready is left out", List.of(a, notReady(b), c),
            List.of("n2 weight 2: 10.1.2.1:8080 10.1.2.2:8080")),
        new Case("a workload the selector does not pick is left out", List.of(a, workload("db", "db", "n1", "10.1.1.9")),
            List.of("n2 weight 1: 10.1.2.1:8080")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void selectedReadyWorkloadsBecomeOneLocalityPerNode(Case c) {
    ClusterLoadAssignment cla = EndpointTranslation.endpoints(mesh(List.of(WEB), c.workloads(), List.of()), WEB, HTTP_80,
        c.workloads());
    assertThat(cla.getClusterName()).isEqualTo("outbound|80||web.demo.svc.cluster.local");
    assertThat(cla.getEndpointsList().stream().map(EndpointTranslationTest::row).toList()).isEqualTo(c.expected());
  }

  static String row(LocalityLbEndpoints l) {
    StringBuilder b = new StringBuilder(l.getLocality().getSubZone() + " weight " + l.getLoadBalancingWeight().getValue()
        + ":");
    for (LbEndpoint e : l.getLbEndpointsList()) {
      var socket = e.getEndpoint().getAddress().getSocketAddress();
      b.append(' ').append(socket.getAddress()).append(':').append(socket.getPortValue());
    }
    return b.toString();
  }

  @Test
  void eachEndpointCarriesItsWorkloadAndIdentityAndTheLocalityItsNodeAndNodeAddressOnce() {
    Workload inMesh = workload("web-a", "web", "n1", "10.1.1.1");
    Workload sameNode = workload("web-c", "web", "n1", "10.1.1.2");
    Workload outside = new Workload("web-b", "demo", "legacy", "n3", "10.1.3.1", Map.of("app", "web"), false, true, null);
    ClusterLoadAssignment cla = EndpointTranslation.endpoints(
        mesh(List.of(WEB), List.of(inMesh, sameNode, outside), List.of()), WEB, HTTP_80, List.of(inMesh, sameNode, outside));

    LocalityLbEndpoints n1 = cla.getEndpoints(0);
    assertThat(n1.getLocality().getSubZone()).isEqualTo("n1");
    assertThat(n1.getMetadata().getFilterMetadataOrThrow("trellis"))
        .as("the node's address, once for its endpoints").isEqualTo(struct(Map.of("node_address", string("10.0.0.1"))));
    assertThat(n1.getLbEndpoints(0).getMetadata().getFilterMetadataOrThrow("trellis"))
        .as("in the mesh: in_mesh is not stated").isEqualTo(struct(Map.of("workload", string("demo/web-a"),
            "identity", string("spiffe://example.org/ns/demo/sa/web"))));
    assertThat(n1.getLbEndpoints(1).getMetadata().getFilterMetadataOrThrow("trellis").getFieldsMap())
        .containsOnlyKeys("workload", "identity");
    LocalityLbEndpoints n3 = cla.getEndpoints(1);
    assertThat(n3.hasMetadata()).as("a node the mesh does not list has no address to dial").isFalse();
    assertThat(n3.getLbEndpoints(0).getMetadata().getFilterMetadataOrThrow("trellis"))
        .as("a workload outside the mesh says so")
        .isEqualTo(struct(Map.of("workload", string("demo/web-b"), "identity",
            string("spiffe://example.org/ns/demo/sa/legacy"), "in_mesh", Value.newBuilder().setBoolValue(false).build())));
    assertThat(cla.getEndpointsList()).flatExtracting(LocalityLbEndpoints::getLbEndpointsList)
        .extracting(e -> e.getHealthStatus().name()).containsOnly("HEALTHY");
  }

  @Test
  void nodeProxiesBuiltBeforeTheCompactFormGetEveryFactOnEachEndpoint() throws Exception {
    Workload inMesh = workload("web-a", "web", "n1", "10.1.1.1");
    Workload outside = new Workload("web-b", "demo", "legacy", "n3", "10.1.3.1", Map.of("app", "web"), false, true, null);
    var mesh = mesh(List.of(WEB), List.of(inMesh, outside), List.of());
    Snapshot.Variant variant = EndpointTranslation.legacy(mesh, WEB, HTTP_80, List.of(inMesh, outside));
    ClusterLoadAssignment cla = variant.resource().body().unpack(ClusterLoadAssignment.class);

    assertThat(variant.resource().name()).isEqualTo("outbound|80||web.demo.svc.cluster.local");
    assertThat(cla.getEndpoints(0).hasMetadata()).isFalse();
    assertThat(cla.getEndpoints(0).getLbEndpoints(0).getMetadata().getFilterMetadataOrThrow("trellis")).isEqualTo(
        struct(Map.of("workload", string("demo/web-a"), "identity", string("spiffe://example.org/ns/demo/sa/web"),
            "node", string("n1"), "node_address", string("10.0.0.1"), "in_mesh", Value.newBuilder().setBoolValue(true)
                .build())));
    assertThat(cla.getEndpoints(1).getLbEndpoints(0).getMetadata().getFilterMetadataOrThrow("trellis"))
        .isEqualTo(struct(Map.of("workload", string("demo/web-b"), "identity",
            string("spiffe://example.org/ns/demo/sa/legacy"), "node", string("n3"),
            "in_mesh", Value.newBuilder().setBoolValue(false).build())));
    ClusterLoadAssignment compact = EndpointTranslation.endpoints(mesh, WEB, HTTP_80, List.of(inMesh, outside));
    assertThat(compact.getSerializedSize()).as("the compact form is smaller").isLessThan(cla.getSerializedSize());
  }

  static Value string(String s) {
    return Value.newBuilder().setStringValue(s).build();
  }

  static Struct struct(Map<String, Value> fields) {
    return Struct.newBuilder().putAllFields(fields).build();
  }
}
