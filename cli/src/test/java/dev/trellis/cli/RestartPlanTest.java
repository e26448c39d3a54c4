package dev.trellis.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RestartPlanTest {

  private static final List<String> COMMAND = List.of("java", "-cp", "cp", "dev.trellis.proxy.NodeProxyMain", "--node",
      "node-1", "--address", "127.0.61.1");

  private static RunState.Entry proxy(String log, RunState.Relaunch relaunch) {
    return new RunState.Entry("node-1", RunState.Role.NODE_PROXY, 42, log, "127.0.61.1",
        List.of(15001, 15006, 15008, 15020, 15000), "http://127.0.61.1:15020", "t", relaunch);
  }

  @ParameterizedTest
  @CsvSource({"node-1.log,1", "node-1.2.log,2", "node-1.17.log,17", "node-1.x.log,1", "node-10.log,1",
      "node-1..log,1", "other.3.log,1"})
  void theGenerationComesFromTheLogName(String log, int generation) {
    assertThat(RestartPlan.generation("node-1", log)).isEqualTo(generation);
  }

  @Test
  void theSuccessorRunsTheRecordedCommandWithAReadyFileAndALogOfItsOwn() {
    Path dir = Path.of("/r");
    LaunchPlan.Launch next = RestartPlan.successor(proxy("/r/node-1.log", new RunState.Relaunch(COMMAND,
        Map.of("A", "b"), "/work")), dir);
    assertThat(next.command()).containsExactlyElementsOf(concat(COMMAND, "--ready-file", "/r/node-1.2.ready", "--listen-after-ready", "60s"));
    assertThat(next.env()).isEqualTo(Map.of("A", "b"));
    assertThat(next.workDir()).isEqualTo(Path.of("/work"));
    assertThat(next.log()).isEqualTo(Path.of("/r/node-1.2.log"));
    assertThat(next.ready()).containsExactly("file:/r/node-1.2.ready");
    assertThat(RestartPlan.readyFile(next)).contains(Path.of("/r/node-1.2.ready"));
    assertThat(next.secretFile()).as("the token file stays as up wrote it").isNull();
  }

  @Test
  void aSecondRestartReplacesTheFirstReadyFileAndKeepsOneListenAfterReady() {
    List<String> restarted = concat(COMMAND, "--listen-after-ready", "60s", "--ready-file", "/r/node-1.2.ready");
    LaunchPlan.Launch next = RestartPlan.successor(proxy("/r/node-1.2.log", new RunState.Relaunch(restarted, Map.of(),
        "/work")), Path.of("/r"));
    assertThat(next.command()).containsExactlyElementsOf(concat(COMMAND, "--listen-after-ready", "60s", "--ready-file",
        "/r/node-1.3.ready"));
    assertThat(RestartPlan.withReadyFile(concat(COMMAND, "--ready-file=/old"), Path.of("/new")))
        .containsExactlyElementsOf(concat(COMMAND, "--ready-file", "/new", "--listen-after-ready", "60s"));
  }

  @Test
  void aRunWithoutARecordedCommandOrAProcessThatIsNoNodeProxyIsRefusedSayingWhatToDo() {
    assertThatThrownBy(() -> RestartPlan.successor(proxy("/r/node-1.log", null), Path.of("/r")))
        .hasMessageContaining("'trellis down' and 'trellis up'");
    RunState.Entry plane = new RunState.Entry("control-plane", RunState.Role.CONTROL_PLANE, 1, "/r/cp.log",
        "127.0.0.1", List.of(), null, null);
    assertThatThrownBy(() -> RestartPlan.successor(plane, Path.of("/r"))).hasMessageContaining("restarts node proxies");
  }

  @Test
  void theRunStateRecordsTheSuccessorInPlaceOfItsPredecessor() {
    RunState.Entry old = proxy("/r/node-1.log", new RunState.Relaunch(COMMAND, Map.of(), "/work"));
    RunState.Entry plane = new RunState.Entry("control-plane", RunState.Role.CONTROL_PLANE, 1, "/r/cp.log",
        "127.0.0.1", List.of(), null, null);
    RunState state = new RunState("/m.yaml", "t", List.of(plane, old));
    RunState.Entry next = new RunState.Entry("node-1", RunState.Role.NODE_PROXY, 43, "/r/node-1.2.log", "127.0.61.1",
        old.ports(), old.admin(), "t2", old.relaunch());
    assertThat(state.replacing(next).processes()).containsExactly(plane, next);
  }

  private static List<String> concat(List<String> a, String... more) {
    return Stream.concat(a.stream(), Arrays.stream(more)).toList();
  }
}
