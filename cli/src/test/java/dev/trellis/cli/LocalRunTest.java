package dev.trellis.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.cli.local.LocalMesh;
import dev.trellis.controlplane.model.MeshTelemetry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/** The local-run pieces that need no process: run state, launch plan, status rendering, CLI errors. */
class LocalRunTest {

  @TempDir
  Path dir;

  private static final RunState STATE = new RunState("/m/mesh.yaml", "2026-01-01T00:00:00Z", List.of(
      new RunState.Entry("control-plane", RunState.Role.CONTROL_PLANE, 101, "/r/control-plane.log", "127.0.0.1",
          List.of(15010, 15012, 15014), "http://127.0.0.1:15014", "2026-01-01T00:00:00.010Z"),
      new RunState.Entry("node-1", RunState.Role.NODE_PROXY, 102, "/r/node-1.log", "127.0.61.1",
          List.of(15001), "http://127.0.61.1:15020", null),
      new RunState.Entry("node-2", RunState.Role.NODE_PROXY, 103, "/r/node-2.log", "127.0.62.1",
          List.of(15001), "http://127.0.62.1:15020", null),
      new RunState.Entry("demo/web-v1-0", RunState.Role.WORKLOAD, 104, "/r/demo.web-v1-0.log", "127.0.61.11", List.of(),
          null, null)));

  @Test
  void runStateRoundTripsThroughItsFileAndIsGoneAfterDelete() {
    STATE.write(dir);
    assertThat(RunState.read(dir)).contains(STATE);
    RunState.delete(dir);
    assertThat(RunState.read(dir)).isEmpty();
  }

  @Test
  void aCorruptRunStateSaysWhichFileAndWhatToDo() throws Exception {
    Files.writeString(dir.resolve(RunState.FILE), "{not json");
    assertThatThrownBy(() -> RunState.read(dir)).hasMessageContaining(dir.resolve("run.json").toString())
        .hasMessageContaining("remove it if no run is up");
  }

  @Test
  void aLivePidThatStartedAtAnotherTimeIsNotTakenForOurProcess() {
    ProcessHandle self = ProcessHandle.current();
    RunState.Entry ours = new RunState.Entry("x", RunState.Role.WORKLOAD, self.pid(), "/l", "127.0.0.1", List.of(),
        null, LocalProcesses.startOf(self));
    RunState.Entry reused = new RunState.Entry("x", RunState.Role.WORKLOAD, self.pid(), "/l", "127.0.0.1", List.of(),
        null, "1999-01-01T00:00:00Z");
    assertThat(LocalProcesses.find(ours)).contains(self);
    assertThat(LocalProcesses.find(reused)).isEmpty();
  }

  @Test
  void configDumpOfAnUnknownNodeListsTheKnownOnes() {
    STATE.write(dir);
    CliRun r = CliRun.run("config-dump", "node-9", "--state-dir", dir.toString());
    assertThat(r.exit()).isEqualTo(2);
    assertThat(r.err()).contains("no node named 'node-9' in the run of /m/mesh.yaml (known nodes: [node-1, node-2])");
  }

  @Test
  void withNoRunDownSaysSoAndSucceedsAndStatusAndConfigDumpPointAtUp() {
    assertThat(CliRun.run("down", "--state-dir", dir.toString())).satisfies(r -> {
      assertThat(r.exit()).isZero();
      assertThat(r.out()).contains("No run is up in").contains("nothing to stop");
    });
    assertThat(CliRun.run("status", "--state-dir", dir.toString()).out()).contains("trellis up <mesh file>");
    assertThat(CliRun.run("config-dump", "node-1", "--state-dir", dir.toString()).err()).contains("no run is up");
  }

  @Test
  void downStopsNothingAliveAndRemovesAStaleState() {
    RunState stale = new RunState("/m.yaml", "x", List.of(new RunState.Entry("w", RunState.Role.WORKLOAD,
        Long.MAX_VALUE - 1, "/l", "127.0.0.1", List.of(), null, null)));
    stale.write(dir);
    CliRun r = CliRun.run("down", "--state-dir", dir.toString());
    assertThat(r.exit()).isZero();
    assertThat(r.out()).contains("already gone").contains("Stopped 0 process(es)");
    assertThat(RunState.read(dir)).isEmpty();
  }

  @Test
  void statusRendersProcessesClientsAndCertificatesFromCannedJson() {
    String clients = """
        [{"stream":1,"protocol":"sotw","client":"node-1","principal":"node-1","node":"node-1","types":[
          {"type":"type.googleapis.com/envoy.config.listener.v3.Listener","ackedVersion":"3","nacks":0},
          {"type":"type.googleapis.com/envoy.config.cluster.v3.Cluster","ackedVersion":"3","nacks":1}]}]
        """;
    String dump = """
        {"version":"3","identities":[{"identity":"spiffe://cluster.local/ns/demo/sa/web","ready":true,
          "notAfter":"2026-01-02T00:00:00Z","serial":"ab"}]}
        """;
    List<String> lines = StatusView.render(STATE, e -> e.pid() != 104, Optional.of(clients), Map.of("node-1", dump));
    assertThat(lines).contains(
        "  NAME           ROLE           STATE  PID  LISTENS ON                   LOG",
        "  control-plane  control-plane  alive  101  127.0.0.1:15010,15012,15014  /r/control-plane.log",
        "  demo/web-v1-0  workload       DEAD   104  -                            /r/demo.web-v1-0.log",
        "  NODE    PROTOCOL  ACKED VERSIONS        NACKS",
        "  node-1  sotw      Listener=3 Cluster=3  1",
        "  node-1  spiffe://cluster.local/ns/demo/sa/web                 true   2026-01-02T00:00:00Z",
        "  node-2  (debug admin http://127.0.62.1:15000 did not answer)  -      -");
  }

  @Test
  void statusSaysWhenTheControlPlaneDoesNotAnswerOrHasNoClients() {
    assertThat(StatusView.render(STATE, e -> true, Optional.empty(), Map.of()))
        .contains("  the control plane's admin did not answer; see its log above");
    assertThat(StatusView.clientRows("[]")).containsExactly("  no xDS client is connected");
  }

  @Test
  void theDemoMeshPlansControlPlaneProxiesAndWorkloadsWithTheirEnvironment() throws Exception {
    Path mesh = Path.of("..", "examples", "demo", "mesh.yaml");
    LocalMesh local = LocalMesh.load(mesh);
    LaunchPlan.Layout layout = new LaunchPlan.Layout("java", List.of(), "cp.jar", "np.jar", "demo.jar", dir,
        UpCommand.telemetry(local.mesh().telemetry(), null));
    List<LaunchPlan.Launch> plan = LaunchPlan.plan(local, mesh, layout);
    assertThat(plan.getFirst().role()).isEqualTo(RunState.Role.CONTROL_PLANE);
    assertThat(plan.getFirst().ready()).containsExactly("http://127.0.0.1:15014/healthz/ready");
    assertThat(plan).filteredOn(l -> l.role() == RunState.Role.NODE_PROXY).extracting(LaunchPlan.Launch::name)
        .containsExactlyElementsOf(local.mesh().nodes().stream().map(n -> n.name()).toList());
    LaunchPlan.Launch proxy = plan.get(1);
    assertThat(proxy.command()).containsSequence("--token-file", dir.resolve(proxy.name() + ".token").toString())
        .containsSequence("--tracing-sampling", "1.0").containsSequence("--zipkin", "http://127.0.0.1:9411/api/v2/spans")
        .as("the mesh file names no access log: the node's goes beside its process log")
        .endsWith("--access-log", dir.resolve(proxy.name() + ".access.log").toAbsolutePath().toString())
        .doesNotContain(proxy.secret());
    LaunchPlan.Launch flaky = plan.stream().filter(l -> l.name().equals("demo/web-flaky-0")).findFirst().orElseThrow();
    assertThat(flaky.command()).endsWith("dev.trellis.demo.DemoMain", "http");
    assertThat(flaky.env()).containsEntry("TRELLIS_WORKLOAD_PORTS", "8080").containsEntry("TRELLIS_DEMO_FAIL_RATE", "0.5")
        .containsEntry("TRELLIS_WORKLOAD_ADDRESS", flaky.address());
    assertThat(flaky.ready()).containsExactly(flaky.address() + ":8080");
    assertThat(flaky.ports()).containsExactly(8080);
    assertThat(proxy.ports()).containsExactly(15001, 15006, 15008, 15020, 15000);
  }

  @Test
  void aNodeProxysDebugAdminIsReadOnItsLoopbackAddressOrInsideItsNamespace() {
    RunState.Entry node1 = STATE.find(RunState.Role.NODE_PROXY, "node-1").orElseThrow();
    assertThat(LaunchPlan.proxyDebugAdmin(STATE, node1)).isEqualTo("http://127.0.61.1:15000");
    RunState netns = new RunState(STATE.meshFile(), STATE.startedAt(), STATE.processes(),
        new RunState.Network("10.61.0.254", List.of(), List.of(), List.of()));
    assertThat(LaunchPlan.proxyDebugAdmin(netns, node1)).isEqualTo("netns:" + NetnsPlan.nodeNetns("node-1")
        + ":http://127.0.0.1:15000");
  }

  @Test
  void aRawHttpAnswerGivesItsBodyOnlyFor200() {
    assertThat(LocalProcesses.okBody("HTTP/1.1 200 OK\r\nContent-length: 2\r\n\r\n{}")).contains("{}");
    assertThat(LocalProcesses.okBody("HTTP/1.1 200 OK\r\n\r\n{\"a\":\r\n\r\n1}")).contains("{\"a\":\r\n\r\n1}");
    assertThat(LocalProcesses.okBody("HTTP/1.1 404 Not Found\r\n\r\nno")).isEmpty();
    assertThat(LocalProcesses.okBody("bash: connect: Connection refused")).isEmpty();
    assertThat(LocalProcesses.okBody("")).isEmpty();
  }

  @Test
  void aDemoWorkloadNoServiceSelectsIsRefusedWithTheFix() throws Exception {
    LocalMesh local = LocalMesh.parse("""
        nodes: [{name: n, address: 127.0.61.1, token: node-token-0123456789}]
        workloads: [{name: lonely, namespace: d, node: n, address: 127.0.61.9, labels: {app: x}, run: {demo: http}}]
        """, "m.yaml", null);
    assertThatThrownBy(() -> LaunchPlan.plan(local, dir.resolve("m.yaml"),
        new LaunchPlan.Layout("java", List.of(), "a", "b", "c", dir, MeshTelemetry.DEFAULTS)))
        .hasMessageContaining("workload d/lonely runs a demo service but no service selects it")
        .hasMessageContaining("add a service whose selector matches its labels {app=x}");
  }

  @org.junit.jupiter.api.Test
  void upsZipkinOptionOverridesTheMeshFilesTracing() {
    MeshTelemetry file = new MeshTelemetry(true, 0.05, null, null, java.net.URI.create("http://z:9411/api/v2/spans"),
        10, "stdout", 0.5);
    assertThat(UpCommand.telemetry(file, null)).isSameAs(file);
    assertThat(UpCommand.telemetry(file, "none").nodeProxyFlags("n")).doesNotContain("--zipkin")
        .containsSequence("--access-log", "stdout");
    assertThat(UpCommand.telemetry(file, "http://127.0.0.1:9411/api/v2/spans").nodeProxyFlags("n"))
        .containsSequence("--tracing-sampling", "1.0").containsSequence("--zipkin", "http://127.0.0.1:9411/api/v2/spans");
    assertThatThrownBy(() -> UpCommand.telemetry(file, "zipkin:9411")).hasMessageContaining("--zipkin 'zipkin:9411'");
  }

  @Test
  void upsDrainTimeoutGoesToEveryNodeProxyOnlyAndTrellisJavaOptsToEveryJvmItStarts() throws Exception {
    Path mesh = Path.of("..", "examples", "demo", "mesh.yaml");
    LocalMesh local = LocalMesh.load(mesh);
    List<String> jvm = UpCommand.jvmOptions("  -Xmx256m   -Dio.netty.leakDetection.level=paranoid ");
    assertThat(jvm).containsExactly("--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
        "-Xmx256m", "-Dio.netty.leakDetection.level=paranoid");
    assertThat(UpCommand.jvmOptions(null)).isEqualTo(UpCommand.jvmOptions(" ")).hasSize(2);
    LaunchPlan.Layout layout = new LaunchPlan.Layout("java", jvm, "cp.jar", "np.jar", "demo.jar", dir,
        MeshTelemetry.DEFAULTS);
    List<LaunchPlan.Launch> plan = LaunchPlan.plan(local, mesh, layout).stream()
        .map(l -> LaunchPlan.withDrainTimeout(l, Duration.ofSeconds(90))).toList();
    assertThat(plan).filteredOn(l -> l.role() == RunState.Role.NODE_PROXY).isNotEmpty()
        .allSatisfy(l -> assertThat(l.command()).endsWith("--drain-timeout", "90000ms"))
        .as("down's default grace reads it back").allSatisfy(l -> assertThat(DownCommand.drainTimeout(l.command()))
            .isEqualTo(Duration.ofSeconds(90)));
    assertThat(plan).filteredOn(l -> l.role() != RunState.Role.NODE_PROXY).isNotEmpty()
        .allSatisfy(l -> assertThat(l.command()).doesNotContain("--drain-timeout"));
    assertThat(plan).filteredOn(l -> l.command().getFirst().equals("java"))
        .allSatisfy(l -> assertThat(l.command()).containsSequence("java", "--enable-native-access=ALL-UNNAMED",
            "--sun-misc-unsafe-memory-access=allow", "-Xmx256m", "-Dio.netty.leakDetection.level=paranoid", "-cp"));
  }

  @Test
  void nodeProxiesGetTheirJvmDefaultsBeforeTrellisJavaOptsSoThoseWinAndNoOtherProcessGetsThem() throws Exception {
    Path mesh = Path.of("..", "examples", "demo", "mesh.yaml");
    List<String> jvm = UpCommand.jvmOptions("-Xms256m");
    LaunchPlan.Layout layout = new LaunchPlan.Layout("java", jvm, "cp.jar", "np.jar", "demo.jar", dir,
        MeshTelemetry.DEFAULTS, List.of("@/checkout/" + UpCommand.NODE_PROXY_JVM_DEFAULTS));
    List<LaunchPlan.Launch> plan = LaunchPlan.plan(LocalMesh.load(mesh), mesh, layout);
    assertThat(plan).filteredOn(l -> l.role() == RunState.Role.NODE_PROXY).isNotEmpty()
        .allSatisfy(l -> assertThat(l.command()).startsWith("java", "@/checkout/node-proxy/src/main/jvm/node-proxy.options",
            "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow", "-Xms256m", "-cp"));
    assertThat(plan).filteredOn(l -> l.role() != RunState.Role.NODE_PROXY).isNotEmpty()
        .allSatisfy(l -> assertThat(String.join(" ", l.command())).doesNotContain("node-proxy.options"));
  }

  @Test
  void theControlPlaneGetsItsJvmDefaultsBeforeTrellisJavaOptsAndNoOtherProcessGetsThem() throws Exception {
    Path mesh = Path.of("..", "examples", "demo", "mesh.yaml");
    List<String> jvm = UpCommand.jvmOptions("-XX:TieredStopAtLevel=4");
    LaunchPlan.Layout layout = new LaunchPlan.Layout("java", jvm, "cp.jar", "np.jar", "demo.jar", dir,
        MeshTelemetry.DEFAULTS, List.of("@/checkout/" + UpCommand.NODE_PROXY_JVM_DEFAULTS),
        List.of("@/checkout/" + UpCommand.CONTROL_PLANE_JVM_DEFAULTS));
    List<LaunchPlan.Launch> plan = LaunchPlan.plan(LocalMesh.load(mesh), mesh, layout);
    assertThat(plan).filteredOn(l -> l.role() == RunState.Role.CONTROL_PLANE).hasSize(1)
        .allSatisfy(l -> assertThat(l.command()).startsWith("java",
            "@/checkout/control-plane/src/main/jvm/control-plane.options", "--enable-native-access=ALL-UNNAMED",
            "--sun-misc-unsafe-memory-access=allow", "-XX:TieredStopAtLevel=4", "-cp"));
    assertThat(plan).filteredOn(l -> l.role() != RunState.Role.CONTROL_PLANE).isNotEmpty()
        .allSatisfy(l -> assertThat(String.join(" ", l.command())).doesNotContain("control-plane.options"));
  }

  @ParameterizedTest
  @ValueSource(strings = {UpCommand.NODE_PROXY_JVM_DEFAULTS, UpCommand.CONTROL_PLANE_JVM_DEFAULTS})
  void theShippedJvmDefaultsAreAJavaArgumentFileOfOptionsOnly(String file) throws Exception {
    List<String> options = java.nio.file.Files.readAllLines(Path.of("..").resolve(file))
        .stream().map(l -> l.replaceAll("#.*", "").strip()).filter(l -> !l.isEmpty()).toList();
    assertThat(options).isNotEmpty().allSatisfy(o -> assertThat(o).startsWith("-").doesNotContain(" "));
  }
}
