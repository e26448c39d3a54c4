package dev.trellis.cli.check;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class MeshCheckTest {

  @TempDir
  Path dir;

  private static final String NODES = """
      nodes:
        - {name: node-1, address: %s, token: node-1-token-0123456789}
        - {name: node-2, address: 127.0.2.1, token: node-2-token-0123456789}
      """;

  /** Placeholders: node-1's address, web-0's address, the api service's selector value. */
  private static final String VALID = NODES + """
      workloads:
        - {name: web-0, namespace: demo, node: node-1, address: %s, labels: {app: web}}
        - {name: api-0, namespace: demo, node: node-2, address: 127.0.2.10, labels: {app: api}}
      services:
        - {name: web, namespace: demo, vip: 10.96.0.1, selector: {app: web}, ports: [{name: http, port: 80}]}
        - {name: api, namespace: demo, vip: 10.96.0.2, selector: {app: %s}, ports: [{name: http, port: 80}]}
      """;

  private Path write(String text) throws IOException {
    Path file = dir.resolve("mesh.yaml");
    Files.writeString(file, text);
    return file;
  }

  @Test
  void aValidFileHasNoErrorsAndASummaryCountingWhatItDeclares() throws IOException {
    MeshCheck.Report report = MeshCheck.check(write(VALID.formatted("127.0.1.1", "127.0.1.10", "api")), PortProbe.none());

    assertThat(report.ok()).isTrue();
    assertThat(report.errors()).isEmpty();
    assertThat(report.warnings()).isEmpty();
    assertThat(report.summary()).isEqualTo("2 nodes, 2 workloads, 2 services, 0 routes, 0 policies, 0 authorizations");
  }

  @Test
  void everyErrorIsReportedOnItsOwnLineWithFileLineColumnAndField() throws IOException {
    Path file = write(NODES.formatted("127.0.1.1") + """
        workloads:
          - {name: web-0, namespace: demo, node: node-9, address: 127.0.1.10}
        services:
          - {name: web, namespace: demo, ports: [{port: 99999}]}
        servces: []
        """);

    MeshCheck.Report report = MeshCheck.check(file, PortProbe.none());

    assertThat(report.ok()).isFalse();
    assertThat(report.summary()).isEmpty();
    assertThat(report.errors()).hasSize(3).allSatisfy(e -> assertThat(e).matches("\\Q" + file + "\\E:\\d+:\\d+: .+: .+"))
        .anySatisfy(e -> assertThat(e).contains("workloads[0].node: no node named 'node-9'"))
        .anySatisfy(e -> assertThat(e).contains("services[0].ports[0].port: 99999 is out of range"))
        .anySatisfy(e -> assertThat(e).contains("servces: unknown field 'servces'"));
  }

  @Test
  void theExampleMeshIsValidWithoutWarnings() {
    Path example = Stream.iterate(Path.of("").toAbsolutePath(), p -> p != null, Path::getParent)
        .map(p -> p.resolve("examples/mesh.yaml")).filter(Files::isRegularFile).findFirst().orElseThrow();

    MeshCheck.Report report = MeshCheck.check(example, PortProbe.none());

    assertThat(report.errors()).isEmpty();
    assertThat(report.warnings()).isEmpty();
    assertThat(report.summary()).startsWith("2 nodes, 4 workloads, 4 services, 1 route, ");
  }

  static Stream<Arguments> warnings() {
    return Stream.of(
        Arguments.of("node address not loopback", "192.168.1.5", "127.0.1.10", "api", Set.of(),
            List.of(":2:29: warning: nodes[0].address: node 'node-1' has address 192.168.1.5, not a loopback address")),
        Arguments.of("workload address not loopback", "127.0.1.1", "10.0.0.7", "api", Set.of(),
            List.of(":5:59: warning: workloads[0].address: workload demo/web-0 has address 10.0.0.7, not a loopback")),
        Arguments.of("workload on its node's own address", "127.0.1.1", "127.0.1.1", "api", Set.of(),
            List.of(":5:59: warning: workloads[0].address: workload demo/web-0 has the address of node 'node-1': "
                + "the workload and that node's proxy would share it; give the workload an address of its own "
                + "(e.g. 127.0.1.10)")),
        Arguments.of("node proxy port taken", "127.0.1.1", "127.0.1.10", "api", Set.of("127.0.2.1:15008"),
            List.of(":3:29: warning: nodes[1].address: 127.0.2.1:15008 (the node proxy's HBONE port) is already in use")),
        Arguments.of("two node proxy ports taken", "127.0.1.1", "127.0.1.10", "api",
            Set.of("127.0.1.1:15001", "127.0.1.1:15020"),
            List.of("nodes[0].address: 127.0.1.1:15001 (the node proxy's entry port) is already in use",
                "nodes[0].address: 127.0.1.1:15020 (the node proxy's admin port) is already in use")),
        Arguments.of("service selects no workload", "127.0.1.1", "127.0.1.10", "apj", Set.of(),
            List.of(":9:60: warning: services[1].selector: service demo/api selects no workload ({app=apj})")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource
  void warnings(String name, String nodeAddress, String workloadAddress, String apiSelector, Set<String> taken,
      List<String> expected) throws IOException {
    Path file = write(VALID.formatted(nodeAddress, workloadAddress, apiSelector));
    PortProbe probe = (address, port) -> taken.contains(address + ":" + port);

    MeshCheck.Report report = MeshCheck.check(file, probe);

    assertThat(report.errors()).isEmpty();
    assertThat(report.warnings()).hasSize(expected.size());
    for (int i = 0; i < expected.size(); i++) {
      assertThat(report.warnings().get(i)).startsWith(file.toString()).contains(expected.get(i));
    }
  }

  @Test
  void aLoadBalancerProxylessGrpcLacksIsNamedWithWhatItsClientsGetInstead() throws IOException {
    Path file = write(VALID.formatted("127.0.1.1", "127.0.1.10", "api") + """
        policies:
          - {name: web, namespace: demo, service: web, loadBalancer: {algorithm: maglev}}
          - {name: api, namespace: demo, service: api, loadBalancer: {algorithm: random}}
        """);

    MeshCheck.Report report = MeshCheck.check(file, PortProbe.none());

    assertThat(report.errors()).isEmpty();
    assertThat(report.warnings()).satisfiesExactly(
        w -> assertThat(w).startsWith(file + ":11:").contains(": warning: policies[0].loadBalancer.algorithm: maglev: "
            + "proxyless gRPC clients of demo/web get ring-hash instead"),
        w -> assertThat(w).startsWith(file + ":12:").contains(": warning: policies[1].loadBalancer.algorithm: random: "
            + "proxyless gRPC clients of demo/api get round-robin instead"));
  }

  @Test
  void theRealPortProbeSeesAListeningSocket() throws IOException {
    try (var listening = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      assertThat(PortProbe.bind().inUse("127.0.0.1", listening.getLocalPort())).isTrue();
    }
    assertThat(PortProbe.bind().inUse("192.0.2.1", 15001)).as("an address this machine lacks").isFalse();
  }
}
