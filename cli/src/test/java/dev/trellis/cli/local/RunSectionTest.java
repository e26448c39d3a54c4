package dev.trellis.cli.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.controlplane.config.MeshFile;
import dev.trellis.controlplane.config.MeshFileException;
import dev.trellis.controlplane.model.ObjectRef;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RunSectionTest {

  private static final String NODES = """
      nodes:
        - {name: node-1, address: 127.0.1.1, token: node-1-token-0123456789}
      workloads:
      """;

  private static String workload(String run) {
    return NODES + "  - {name: w, namespace: demo, node: node-1, address: 127.0.1.10, run: " + run + "}\n";
  }

  @Test
  void aDemoRunWithItsOptions() throws Exception {
    LocalMesh local = LocalMesh.parse(workload("{demo: http, failRate: 0.5, latency: 250ms, env: {A: b}}"),
        "m.yaml", null);
    assertThat(local.runs()).containsExactly(Map.entry(new ObjectRef("demo", "w"),
        new WorkloadRun.Demo(WorkloadRun.Demo.Kind.HTTP, 0.5, Duration.ofMillis(250), Map.of("A", "b"))));
  }

  @Test
  void aCommandRun() throws Exception {
    LocalMesh local = LocalMesh.parse(workload("{command: [python3, -m, http.server], env: {PORT: '8080'}}"),
        "m.yaml", null);
    assertThat(local.runs().get(new ObjectRef("demo", "w")))
        .isEqualTo(new WorkloadRun.Command(List.of("python3", "-m", "http.server"), Map.of("PORT", "8080")));
  }

  @Test
  void theControlPlaneViewIsTheSameWithOrWithoutRun() throws Exception {
    assertThat(MeshFile.parse(workload("{demo: grpc}"), "m.yaml", null))
        .isEqualTo(MeshFile.parse(NODES + "  - {name: w, namespace: demo, node: node-1, address: 127.0.1.10}\n",
            "m.yaml", null));
  }

  @Test
  void workloadsWithoutRunAreNotListed() throws Exception {
    assertThat(LocalMesh.parse(NODES + "  - {name: w, namespace: demo, node: node-1, address: 127.0.1.10}\n",
        "m.yaml", null).runs()).isEmpty();
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', textBlock = """
      {}                                   | workloads[0].run: give exactly one of 'demo' (a shipped demo service: http or grpc) or 'command'
      {demo: http, command: [x]}           | workloads[0].run: give exactly one of 'demo'
      {demo: php}                          | workloads[0].run.demo: 'php' is not one of [http, grpc]
      {demo: http, failRate: 2}            | workloads[0].run.failRate: 2 is out of range (expected: 0.0..1.0)
      {demo: http, latency: soon}          | workloads[0].run.latency: 'soon' is not a duration
      {demo: http, colour: red}            | workloads[0].run.colour: unknown field 'colour'
      {command: []}                        | workloads[0].run.command: must name a program
      {command: [x], failRate: 0.1}        | workloads[0].run.failRate: only for demo services
      {demo: http, env: {1X: y}}           | workloads[0].run.env: '1X' is not an environment variable name
      {demo: http, env: {TRELLIS_WORKLOAD_ADDRESS: y}} | workloads[0].run.env: 'TRELLIS_WORKLOAD_ADDRESS' is set by trellis up
      """)
  void eachBadFieldIsNamed(String run, String expected) {
    assertThatThrownBy(() -> LocalMesh.parse(workload(run), "m.yaml", null))
        .isInstanceOf(MeshFileException.class)
        .satisfies(e -> assertThat(((MeshFileException) e).problems()).anySatisfy(p -> assertThat(p).contains(expected)));
  }
}
