package dev.trellis.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.trellis.cli.local.LocalMesh;
import dev.trellis.controlplane.model.Mesh;
import dev.trellis.controlplane.model.MeshTelemetry;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code up --netns}'s decisions, without namespaces: what a mesh needs, the network, the launches, exec's errors. */
class NetnsPlanTest {

  static final Path EXAMPLE = Path.of("..", "examples", "netns", "mesh.yaml");
  static final Path CGROUPS = Path.of("/sys/fs/cgroup/unified");

  @TempDir
  Path dir;

  static Mesh mesh(String yaml) throws Exception {
    return LocalMesh.parse(yaml, "m.yaml", null).mesh();
  }

  @Test
  void theExampleMeshFitsAndTheLoopbackDemoIsRefusedFieldByField() throws Exception {
    assertThat(NetnsPlan.problems(LocalMesh.load(EXAMPLE).mesh())).isEmpty();
    List<String> demo = NetnsPlan.problems(LocalMesh.load(Path.of("..", "examples", "demo", "mesh.yaml")).mesh());
    assertThat(demo).anyMatch(p -> p.startsWith("nodes[0].address: 127.0.61.1 is a loopback address"))
        .anyMatch(p -> p.startsWith("nodes[1].address: 127.0.62.1 is a loopback address"))
        .anyMatch(p -> p.startsWith("workloads[0].address: 127.0.61.10 is a loopback address"))
        .allMatch(p -> !p.startsWith("services"));
  }

  @Test
  void eachProblemNamesItsFieldAndTheFix() throws Exception {
    List<String> problems = NetnsPlan.problems(mesh("""
        nodes:
          - {name: a, address: 10.61.0.1, token: node-token-0123456789a}
          - {name: b, address: 10.62.0.2, token: node-token-0123456789b}
          - {name: c, address: 10.61.0.254, token: node-token-0123456789c}
        workloads:
          - {name: w, namespace: d, node: a, address: 10.61.0.9}
          - {name: x, namespace: d, node: b, address: 169.254.3.3}
        services:
          - {name: s, namespace: d, vip: 127.0.0.9, selector: {app: w}, ports: [{name: http, port: 80}]}
        """));
    assertThat(problems).containsExactlyInAnyOrder(
        "nodes[1].address: 10.62.0.2 is not in 10.61.0.0/24 like nodes[0]: with --netns every node is on one /24 link",
        "nodes[2].address: 10.61.0.254 ends in .254: with --netns .0 and .255 are not host addresses and .254 is the "
            + "host's own (the control plane listens there); use .1 to .253",
        "workloads[0].address: 10.61.0.9 is inside the nodes' /24 (10.61.0.0/24); with --netns pods take addresses "
            + "outside it, e.g. 10.61.1.10",
        "workloads[1].address: 169.254.3.3 is not a unicast address a namespace can route; with --netns each workload "
            + "is a pod with an address such as 10.61.1.10, outside the nodes' /24",
        "services[0].vip: 127.0.0.9 is a loopback address, which a pod reaches inside itself and never through the "
            + "mesh; use one such as 10.96.61.10");
    assertThatThrownBy(() -> NetnsPlan.plan(mesh("""
        nodes: [{name: a, address: 127.0.61.1, token: node-token-0123456789a}]
        """), CGROUPS)).hasMessageContaining("nodes[0].address: 127.0.61.1 is a loopback address");
  }

  @Test
  void theNetworkJoinsNodesOnOneBridgeAndRoutesEachPodFromEveryNode() throws Exception {
    NetnsPlan net = NetnsPlan.plan(LocalMesh.load(EXAMPLE).mesh(), CGROUPS);
    assertThat(net.gateway()).isEqualTo("10.61.0.254");
    assertThat(net.setup()).contains(List.of("ip", "addr", "add", "10.61.0.254/24", "dev", "trellis0"),
        List.of("ip", "link", "add", "n1", "netns", "trellis-hub", "type", "veth", "peer", "name", "eth0", "netns",
            "trellis-node-node-2"),
        List.of("ip", "-n", "trellis-node-node-2", "addr", "add", "10.61.0.2/24", "dev", "eth0"));
    NetnsPlan.PodNet web = net.pods().stream().filter(p -> p.name().equals("demo/web-v1-0")).findFirst().orElseThrow();
    assertThat(web.netns()).isEqualTo("trellis-pod-demo-web-v1-0");
    assertThat(web.cgroup()).isEqualTo("/sys/fs/cgroup/unified/trellis-up/demo.web-v1-0");
    int link = net.pods().indexOf(web);
    assertThat(net.setup()).as("its node routes it to its link, the other node via its node; it has a default route")
        .contains(List.of("ip", "-n", "trellis-node-node-2", "route", "add", "10.61.2.11/32", "dev", "p" + link),
            List.of("ip", "-n", "trellis-node-node-1", "route", "add", "10.61.2.11/32", "via", "10.61.0.2", "dev",
                "eth0"),
            List.of("ip", "-n", "trellis-pod-demo-web-v1-0", "route", "add", "default", "via", "169.254.1.1", "dev",
                "eth0"))
        .noneMatch(c -> c.containsAll(List.of("route", "add", "default")) && c.contains("trellis-node-node-1"));
    // A namespace is added before anything is put into it.
    assertThat(net.setup().indexOf(List.of("ip", "netns", "add", "trellis-pod-demo-web-v1-0")))
        .isLessThan(net.setup().indexOf(List.of("ip", "-n", "trellis-pod-demo-web-v1-0", "link", "set", "lo", "up")));
    assertThat(net.teardown().getFirst()).isEqualTo(List.of("ip", "link", "del", "trellis0"));
    assertThat(net.teardown()).contains(List.of("ip", "netns", "del", "trellis-hub"),
        List.of("ip", "netns", "del", "trellis-node-node-1"), List.of("ip", "netns", "del", "trellis-pod-demo-client-0"),
        List.of("rmdir", "/sys/fs/cgroup/unified/trellis-up/demo.client-0"));
    assertThat(net.teardown().getLast()).isEqualTo(List.of("rmdir", "/sys/fs/cgroup/unified/trellis-up"));
    for (List<String> add : net.setup().stream().filter(c -> c.size() == 4 && c.get(2).equals("add")).toList()) {
      assertThat(net.teardown()).as("what '%s' makes is removed", add).contains(List.of("ip", "netns", "del", add.get(3)));
    }
  }

  @Test
  void eachNodeAgentKnowsItsOwnPodsEnrolledNamespacesAndTheOptOut() throws Exception {
    NetnsPlan net = NetnsPlan.plan(LocalMesh.load(EXAMPLE).mesh(), CGROUPS);
    JsonObject pods = JsonParser.parseString(net.podsJson("node-1")).getAsJsonObject();
    assertThat(pods.getAsJsonObject("namespaces").getAsJsonObject("demo").get("trellis.dev/mesh").getAsString())
        .isEqualTo("enabled");
    assertThat(pods.getAsJsonArray("pods").asList()).extracting(p -> p.getAsJsonObject().get("name").getAsString())
        .containsExactly("client-0", "outsider-0", "greeter-0");
    JsonObject outsider = pods.getAsJsonArray("pods").get(1).getAsJsonObject();
    assertThat(outsider.getAsJsonObject("labels").get("trellis.dev/mesh").getAsString()).isEqualTo("disabled");
    assertThat(outsider.get("cgroup").getAsString()).isEqualTo("/sys/fs/cgroup/unified/trellis-up/demo.outsider-0");
    assertThat(pods.getAsJsonArray("pods").get(0).getAsJsonObject().getAsJsonObject("labels").size()).isZero();
  }

  @Test
  void theCniCallIsWhatARuntimeSendsForThePod() throws Exception {
    NetnsPlan net = NetnsPlan.plan(LocalMesh.load(EXAMPLE).mesh(), CGROUPS);
    NetnsPlan.CniCall add = NetnsPlan.cniCall(net.pods().getFirst(), "ADD", "/r/node-1.cni.sock");
    assertThat(add.env()).containsEntry("CNI_COMMAND", "ADD").containsEntry("CNI_NETNS",
        "/var/run/netns/trellis-pod-demo-client-0").containsEntry("CNI_CONTAINERID", "trellis-up-demo-client-0")
        .containsEntry("CNI_ARGS", "K8S_POD_NAMESPACE=demo;K8S_POD_NAME=client-0;K8S_POD_UID=trellis-up-demo-client-0");
    JsonObject config = JsonParser.parseString(add.config()).getAsJsonObject();
    assertThat(config.get("agentSocket").getAsString()).isEqualTo("/r/node-1.cni.sock");
    assertThat(config.getAsJsonObject("prevResult").getAsJsonArray("ips").get(0).getAsJsonObject().get("address")
        .getAsString()).isEqualTo("10.61.1.10/32");
  }

  @Test
  void inNamespacesTheProcessesJoinTheirNamespacesAndTheControlPlaneListensOnTheGateway() throws Exception {
    LocalMesh local = LocalMesh.load(EXAMPLE);
    NetnsPlan net = NetnsPlan.plan(local.mesh(), CGROUPS);
    LaunchPlan.Layout layout = new LaunchPlan.Layout("java", List.of(), "cp.jar", "np.jar", "demo.jar", dir,
        MeshTelemetry.DEFAULTS);
    List<LaunchPlan.Launch> plan = LaunchPlan.plan(local, EXAMPLE, layout, net, "nftables");
    assertThat(plan).extracting(LaunchPlan.Launch::role).containsSubsequence(RunState.Role.CONTROL_PLANE,
        RunState.Role.NODE_AGENT, RunState.Role.NODE_AGENT, RunState.Role.NODE_PROXY, RunState.Role.WORKLOAD);
    LaunchPlan.Launch cp = plan.getFirst();
    assertThat(cp.command()).endsWith("--bind", "10.61.0.254").doesNotContain("nsenter");
    assertThat(cp.ready()).containsExactly("http://10.61.0.254:15014/healthz/ready");

    LaunchPlan.Launch agent = plan.get(1);
    assertThat(agent.command()).startsWith("sh", "-c").contains("trellis-node-node-1")
        .containsSequence("--redirect", "nftables").containsSequence("--proxy-address", "10.61.0.1")
        .containsSequence("--pods", dir.resolve("node-1.pods.json").toString());
    assertThat(agent.ready()).containsExactly("log:trellis node agent up");

    LaunchPlan.Launch proxy = plan.stream().filter(l -> l.role() == RunState.Role.NODE_PROXY).findFirst().orElseThrow();
    assertThat(proxy.command()).contains("trellis-node-node-1").containsSequence("--capture", "transparent")
        .containsSequence("--control-plane", "10.61.0.254:15010").doesNotContain("--ebpf-pins")
        .as("the proxy reads pods' namespaces where the agent writes them")
        .containsSequence("--agent-state", dir.resolve("node-1.agent-state.json").toString());
    assertThat(LaunchPlan.withEbpfPins(proxy, "/sys/fs/bpf/trellis-up-node-1").command())
        .endsWith("--ebpf-pins", "/sys/fs/bpf/trellis-up-node-1");

    LaunchPlan.Launch web = plan.stream().filter(l -> l.name().equals("demo/web-v1-0")).findFirst().orElseThrow();
    assertThat(web.command().get(2)).as("the shell puts itself in the pod's cgroup, then execs into its namespace")
        .startsWith("echo $$ > '/sys/fs/cgroup/unified/trellis-up/demo.web-v1-0/cgroup.procs' && exec nsenter");
    assertThat(web.command().get(3)).isEqualTo("trellis-pod-demo-web-v1-0");
    assertThat(web.ready()).containsExactly("netns:trellis-pod-demo-web-v1-0:10.61.2.11:8080");
    assertThat(web.env()).doesNotContainKey("TRELLIS_NODE_ENTRY").containsEntry("TRELLIS_WORKLOAD_ADDRESS", "10.61.2.11");

    assertThat(LaunchPlan.netnsOf(agent.command())).contains("trellis-node-node-1");
    assertThat(LaunchPlan.netnsOf(cp.command())).isEmpty();
    RunState.Network network = NetnsUp.network(net, layout, "nftables");
    assertThat(network.teardown().getFirst()).as("each node agent uninstalls first, in its namespace")
        .contains("trellis-node-node-1", "dev.trellis.proxy.NodeAgentMain", "uninstall");
    assertThat(network.teardown()).endsWith(net.teardown().toArray(List[]::new));
  }

  @Test
  void tearingDownWhatIsAlreadyGoneRunsNothingAndFindsNothingLeft() {
    RunState.Network gone = new RunState.Network("10.99.0.254",
        List.of(new NetnsPlan.NodeNet("n", "trellis-test-absent-node", "10.99.0.1", dir.resolve("pins").toString())),
        List.of(new NetnsPlan.PodNet("d/w", "d", "w", "n", "trellis-test-absent-pod", "10.99.1.1",
            dir.resolve("cg").toString(), "c", true)),
        List.of(List.of("ip", "netns", "del", "trellis-test-absent-pod"), List.of("rmdir", dir.resolve("cg").toString()),
            LaunchPlan.inNetns("trellis-test-absent-node", null, List.of("false"))));
    StringWriter err = new StringWriter();
    assertThat(NetnsUp.teardown(gone, new PrintWriter(err, true))).isEmpty();
    assertThat(err.toString()).isEmpty();
  }

  @Test
  void statusListsThePodsOfANamespaceRun() throws Exception {
    NetnsPlan net = NetnsPlan.plan(LocalMesh.load(EXAMPLE).mesh(), CGROUPS);
    RunState state = new RunState("/m.yaml", "t", List.of(), new RunState.Network(net.gateway(), net.nodes(),
        net.pods(), List.of()));
    List<String> lines = StatusView.render(state, e -> true, java.util.Optional.empty(), java.util.Map.of());
    assertThat(lines).anyMatch(l -> l.startsWith("PODS"))
        .anyMatch(l -> l.matches("\\s*demo/outsider-0\\s+node-1\\s+10\\.61\\.1\\.20\\s+trellis-pod-demo-outsider-0\\s+not in the mesh"))
        .anyMatch(l -> l.matches("\\s*demo/web-v2-0\\s+node-2\\s+10\\.61\\.2\\.13\\s+trellis-pod-demo-web-v2-0\\s+captured"));
    assertThat(StatusView.render(new RunState("/m.yaml", "t", List.of()), e -> true, java.util.Optional.empty(),
        java.util.Map.of())).noneMatch(l -> l.startsWith("PODS"));
  }

  @Test
  void upsNextStepsCallTheFirstHttpVipThroughTheEntryOrFromInsideThePod() throws Exception {
    assertThat(UpCommand.example(LocalMesh.load(Path.of("..", "examples", "demo", "mesh.yaml")).mesh()))
        .contains("curl --interface 127.0.61.10 --socks5 127.0.61.1:15001 http://10.96.61.10:8080/");
    assertThat(UpCommand.exampleInNetns(LocalMesh.load(EXAMPLE).mesh(), " --state-dir /r"))
        .contains("trellis exec --state-dir /r demo/client-0 -- curl -s http://10.96.61.10:8080/");
    assertThat(UpCommand.example(mesh("""
        nodes: [{name: a, address: 127.0.61.1, token: node-token-0123456789a}]
        workloads: [{name: w, namespace: d, node: a, address: 127.0.61.9, labels: {app: w}}]
        services: [{name: s, namespace: d, vip: 10.96.0.1, selector: {app: w}, ports: [{name: tcp, port: 5432}]}]
        """))).as("no HTTP port on any service: no example").isEmpty();
  }

  @Test
  void checkNetnsPassesTheExampleAndFailsTheLoopbackDemoNamingEachField() {
    CliRun ok = CliRun.run("check", "--netns", EXAMPLE.toString());
    assertThat(ok.exit()).as(ok.out() + ok.err()).isZero();
    assertThat(ok.out()).contains("ok for --netns: 2 nodes, 6 workloads");
    CliRun demo = CliRun.run("check", "--netns", "../examples/demo/mesh.yaml");
    assertThat(demo.exit()).isEqualTo(1);
    assertThat(demo.out()).contains("../examples/demo/mesh.yaml: nodes[0].address: 127.0.61.1 is a loopback address")
        .contains("errors for --netns").doesNotContain("warning");
    assertThat(CliRun.run("check", "--netns").err()).contains("--netns checks a mesh file");
    CliRun redirect = CliRun.run("up", "--redirect", "ebpf", "--state-dir", dir.toString(), EXAMPLE.toString());
    assertThat(redirect.exit()).isEqualTo(2);
    assertThat(redirect.err()).contains("--redirect ebpf applies to namespace runs: add --netns");
  }

  @Test
  void eachRunsAgentsGetTheirPodsFileAndNoEarlierRunsStateOrSocket() throws Exception {
    NetnsPlan net = NetnsPlan.plan(LocalMesh.load(EXAMPLE).mesh(), CGROUPS);
    LaunchPlan.Layout layout = new LaunchPlan.Layout("java", List.of(), "cp.jar", "np.jar", "demo.jar", dir,
        MeshTelemetry.DEFAULTS);
    java.nio.file.Files.writeString(LaunchPlan.agentState(layout, "node-1"), "{\"pods\": [\"of an earlier run\"]}");
    java.nio.file.Files.writeString(LaunchPlan.agentSocket(layout, "node-2"), "");
    NetnsUp up = new NetnsUp(net, layout, NetnsUp.network(net, layout, "auto"));
    assertThat(up.writeAgentFiles()).isEmpty();
    assertThat(LaunchPlan.podsFile(layout, "node-1")).hasContent(net.podsJson("node-1"));
    assertThat(LaunchPlan.podsFile(layout, "node-2")).hasContent(net.podsJson("node-2"));
    assertThat(LaunchPlan.agentState(layout, "node-1")).doesNotExist();
    assertThat(LaunchPlan.agentSocket(layout, "node-2")).doesNotExist();
  }

  @Test
  void whatTeardownCannotRemoveIsNamedAndDownKeepsTheRunStateToTryAgain() throws Exception {
    Path cgroup = java.nio.file.Files.createDirectories(dir.resolve("cg"));
    java.nio.file.Files.writeString(cgroup.resolve("cgroup.procs"), "4242"); // rmdir refuses a non-empty directory
    RunState.Network network = new RunState.Network("10.99.0.254", List.of(),
        List.of(new NetnsPlan.PodNet("d/w", "d", "w", "n", "trellis-test-absent-pod", "10.99.1.1", cgroup.toString(),
            "c", true)), List.of(List.of("rmdir", cgroup.toString())));
    StringWriter err = new StringWriter();
    assertThat(NetnsUp.teardown(network, new PrintWriter(err, true)))
        .containsExactly("cgroup " + cgroup + " (rmdir it once no process is in it)");
    assertThat(err.toString()).contains("warning: 'rmdir " + cgroup + "' failed");

    Path state = java.nio.file.Files.createDirectories(dir.resolve("state"));
    new RunState("/m.yaml", "t", List.of(), network).write(state);
    CliRun down = CliRun.run("down", "--state-dir", state.toString());
    assertThat(down.exit()).isEqualTo(1);
    assertThat(down.err()).contains("the run's network is not all gone; still there:").contains("cgroup " + cgroup)
        .contains("'trellis down' tries again");
    assertThat(RunState.read(state)).isPresent();
  }

  @Test
  void execSaysWhenThereIsNoRunNoPodsOrNoSuchWorkload() throws Exception {
    CliRun none = CliRun.run("exec", "--state-dir", dir.toString(), "demo/client-0", "--", "true");
    assertThat(none.exit()).isEqualTo(1);
    assertThat(none.err()).contains("no run is up in").contains("trellis up --netns MESH_FILE");

    new RunState("/m.yaml", "t", List.of()).write(dir);
    assertThat(CliRun.run("exec", "--state-dir", dir.toString(), "demo/client-0", "--", "true").err())
        .contains("was started without --netns");

    NetnsPlan net = NetnsPlan.plan(LocalMesh.load(EXAMPLE).mesh(), CGROUPS);
    new RunState("/m.yaml", "t", List.of(), new RunState.Network(net.gateway(), net.nodes(), net.pods(),
        List.of())).write(dir);
    CliRun unknown = CliRun.run("exec", "--state-dir", dir.toString(), "demo/nobody", "--", "true");
    assertThat(unknown.exit()).isEqualTo(1);
    assertThat(unknown.err()).contains("no workload 'demo/nobody'").contains("demo/client-0, demo/outsider-0");
    assertThat(RunState.read(dir).orElseThrow().network().pods()).isEqualTo(net.pods());
  }
}
