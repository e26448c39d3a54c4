package dev.trellis.xds.resource;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.envoyproxy.envoy.config.core.v3.Node;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class ClientKindTest {

  record Case(String name, Node node, ClientKind expected) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Node node(String userAgent, String role) {
    Node.Builder n = Node.newBuilder().setId("n");
    if (userAgent != null) {
      n.setUserAgentName(userAgent);
    }
    if (role != null) {
      n.setMetadata(Struct.newBuilder().putFields(ClientKind.ROLE_KEY, Value.newBuilder().setStringValue(role).build()));
    }
    return n.build();
  }

  static Stream<Case> cases() {
    return Stream.of(
        new Case("a Trellis node proxy names its role and reads compact endpoints",
            node(null, "node-proxy").toBuilder().addClientFeatures(ClientKind.COMPACT_ENDPOINTS).build(),
            ClientKind.NODE_PROXY),
        new Case("a node proxy that does not announce compact endpoints is one built before them",
            node(null, "node-proxy"), ClientKind.LEGACY_NODE_PROXY),
        new Case("the compact-endpoints feature alone does not make a node proxy",
            node("gRPC Java", null).toBuilder().addClientFeatures(ClientKind.COMPACT_ENDPOINTS).build(),
            ClientKind.PROXYLESS),
        new Case("Envoy names itself", node("envoy", null), ClientKind.ENVOY),
        new Case("grpc-java", node("gRPC Java", null), ClientKind.PROXYLESS),
        new Case("grpc-go", node("gRPC Go", null), ClientKind.PROXYLESS),
        new Case("grpc-java claiming another Trellis role", node("gRPC Java", "proxyless-grpc"), ClientKind.PROXYLESS),
        new Case("a client that says nothing about itself", node(null, null), ClientKind.PROXYLESS),
        new Case("an unknown client", node("armeria", null), ClientKind.PROXYLESS));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void theKindOfAClientComesFromItsNode(Case c) {
    assertThat(ClientKind.of(c.node())).isEqualTo(c.expected());
  }
}
