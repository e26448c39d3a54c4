package dev.trellis.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
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

  private static final RunState.Relaunch CP_COMMAND = new RunState.Relaunch(List.of("java", "ControlPlaneMain",
      "control-plane", "--mesh", "/m.yaml"), Map.of(), "/r");
  private static final RunState.Relaunch AGENT_COMMAND = new RunState.Relaunch(List.of("sh", "-c",
      "exec nsenter --net=/var/run/netns/\"$0\" \"$@\"", "trellis-node-1", "java", "NodeAgentMain"), Map.of("E", "f"),
      "/r");

  private static RunState run(boolean withAgent, RunState.Relaunch cp) {
    List<RunState.Entry> entries = new ArrayList<>();
    entries.add(new RunState.Entry("control-plane", RunState.Role.CONTROL_PLANE, 1, "/r/control-plane.log", "127.0.0.1",
        List.of(15010, 15012, 15014), "http://127.0.0.1:15014", "t", cp));
    if (withAgent) {
      entries.add(new RunState.Entry("node-1", RunState.Role.NODE_AGENT, 2, "/r/node-1.agent.log", "10.61.0.1",
          List.of(), null, "t", AGENT_COMMAND));
    }
    entries.add(proxy("/r/node-1.log", new RunState.Relaunch(COMMAND, Map.of(), "/r")));
    entries.add(new RunState.Entry("default/web", RunState.Role.WORKLOAD, 4, "/r/default.web.log", "127.0.61.10",
        List.of(8080), null, "t", new RunState.Relaunch(List.of("web"), Map.of(), "/m")));
    return new RunState("/m.yaml", "t", entries);
  }

  /** What each form of 'trellis restart' decides: which process, which way, which signal; or the refusal. */
  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      // name         | --node-agent | --kill | agents | decision | role or message
      "control-plane  | false        | false  | false  | Replace  | CONTROL_PLANE",
      "control-plane  | false        | true   | true   | Kill     | CONTROL_PLANE",
      "node-1         | true         | false  | true   | Replace  | NODE_AGENT",
      "node-1         | true         | true   | true   | Kill     | NODE_AGENT",
      "node-1         | false        | false  | true   | Surge    | NODE_PROXY",
      "node-1         | false        | false  | false  | Surge    | NODE_PROXY",
      "node-1         | false        | true   | false  | Refused  | --kill is refused for a node proxy: SIGKILL would cut every connection",
      "node-1         | true         | false  | false  | Refused  | node node-1 has no node agent in this run: node agents run only in 'trellis up --netns'",
      "control-plane  | true         | false  | true   | Refused  | --node-agent names the node agent of a node",
      "node-9         | false        | false  | true   | Refused  | the run has no process 'node-9'; valid names: control-plane, node-1 (",
      "default/web    | false        | false  | false  | Refused  | default/web is a workload: 'trellis restart' restarts the mesh's own processes",
  })
  void eachFormDecidesItsProcessAndSignalOrIsRefusedSayingWhy(String name, boolean nodeAgent, boolean kill,
      boolean agents, String decision, String expected) {
    RestartPlan.Decision d = RestartPlan.decide(run(agents, CP_COMMAND), name, nodeAgent, kill, Path.of("/r"));
    switch (decision) {
      case "Replace", "Kill" -> {
        assertThat(d).isInstanceOf(RestartPlan.Replace.class);
        RestartPlan.Replace r = (RestartPlan.Replace) d;
        assertThat(r.old().role().name()).isEqualTo(expected);
        assertThat(r.next().role().name()).isEqualTo(expected);
        assertThat(r.kill()).isEqualTo(decision.equals("Kill"));
      }
      case "Surge" -> {
        assertThat(d).isInstanceOf(RestartPlan.Surge.class);
        assertThat(((RestartPlan.Surge) d).old().role().name()).isEqualTo(expected);
        assertThat(((RestartPlan.Surge) d).next().ready()).containsExactly("file:/r/node-1.2.ready");
      }
      default -> {
        assertThat(d).isInstanceOf(RestartPlan.Refused.class);
        assertThat(((RestartPlan.Refused) d).message()).contains(expected);
      }
    }
  }

  @Test
  void theControlPlaneStartsAgainWithItsCommandANewLogAndUpsReadinessProbe() {
    RestartPlan.Replace r = (RestartPlan.Replace) RestartPlan.decide(run(false, CP_COMMAND), "control-plane", false,
        true, Path.of("/r"));
    assertThat(r.next().command()).isEqualTo(CP_COMMAND.command());
    assertThat(r.next().workDir()).isEqualTo(Path.of("/r"));
    assertThat(r.next().log()).isEqualTo(Path.of("/r/control-plane.2.log"));
    assertThat(r.next().ready()).containsExactly("http://127.0.0.1:15014/healthz/ready");
    assertThat(r.next().secretFile()).isNull();
  }

  @Test
  void theNodeAgentStartsAgainInItsNamespaceWithANewLogSoItsUpLineIsItsOwn() {
    RunState.Entry agent = new RunState.Entry("node-1", RunState.Role.NODE_AGENT, 2, "/r/node-1.agent.2.log",
        "10.61.0.1", List.of(), null, "t", AGENT_COMMAND);
    LaunchPlan.Launch next = RestartPlan.relaunch(agent, Path.of("/r"));
    assertThat(next.command()).isEqualTo(AGENT_COMMAND.command());
    assertThat(LaunchPlan.netnsOf(next.command())).contains("trellis-node-1");
    assertThat(next.env()).isEqualTo(Map.of("E", "f"));
    assertThat(next.log()).isEqualTo(Path.of("/r/node-1.agent.3.log"));
    assertThat(next.ready()).containsExactly(LaunchPlan.LOG_PROBE + LaunchPlan.AGENT_UP);
  }

  @Test
  void aControlPlaneWithoutARecordedCommandIsRefusedSayingWhatToDo() {
    RestartPlan.Decision d = RestartPlan.decide(run(false, null), "control-plane", false, false, Path.of("/r"));
    assertThat(d).isInstanceOf(RestartPlan.Refused.class);
    assertThat(((RestartPlan.Refused) d).message()).contains("no command line for the control plane",
        "'trellis down' and 'trellis up'");
  }

  @Test
  void aRunStateWithoutRelaunchStillReads(@TempDir Path dir) throws Exception {
    Files.writeString(dir.resolve("run.json"), """
        {"meshFile": "/m.yaml", "startedAt": "t", "processes": [{"name": "control-plane", "role": "CONTROL_PLANE",
         "pid": 7, "log": "/r/control-plane.log", "address": "127.0.0.1", "ports": [15014],
         "admin": "http://127.0.0.1:15014"}]}
        """);
    RunState state = RunState.read(dir).orElseThrow();
    assertThat(state.processes().getFirst().pid()).isEqualTo(7);
    assertThat(state.processes().getFirst().relaunch()).isNull();
  }

  @Test
  void anUpdateAppliesToTheStateOnDiskSoAConcurrentRestartsRecordIsKept(@TempDir Path dir) {
    RunState read = run(true, CP_COMMAND);
    read.write(dir);
    // Another 'trellis restart' records a new node agent after this one read the state...
    RunState.Entry agent = read.find(RunState.Role.NODE_AGENT, "node-1").orElseThrow();
    RunState.Entry newAgent = new RunState.Entry("node-1", RunState.Role.NODE_AGENT, 20, "/r/node-1.agent.2.log",
        agent.address(), agent.ports(), agent.admin(), "t2", agent.relaunch());
    RunState.update(dir, now -> now.replacing(newAgent));
    // ...then this one records its new control plane: both new pids are in run.json.
    RunState.Entry plane = read.find(RunState.Role.CONTROL_PLANE, "control-plane").orElseThrow();
    RunState.Entry newPlane = new RunState.Entry("control-plane", RunState.Role.CONTROL_PLANE, 10,
        "/r/control-plane.2.log", plane.address(), plane.ports(), plane.admin(), "t2", plane.relaunch());
    RunState.update(dir, now -> now.replacing(newPlane));
    RunState after = RunState.read(dir).orElseThrow();
    assertThat(after.find(RunState.Role.CONTROL_PLANE, "control-plane").orElseThrow().pid()).isEqualTo(10);
    assertThat(after.find(RunState.Role.NODE_AGENT, "node-1").orElseThrow().pid()).isEqualTo(20);
    assertThat(after.processes()).hasSize(read.processes().size());
  }

  @Test
  void anUpdateWithoutARunStateSaysDownRanMeanwhile(@TempDir Path dir) {
    assertThatThrownBy(() -> RunState.update(dir, now -> now)).hasMessageContaining("'trellis down' ran meanwhile");
  }

  private static List<String> concat(List<String> a, String... more) {
    return Stream.concat(a.stream(), Arrays.stream(more)).toList();
  }
}
