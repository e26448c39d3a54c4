package dev.trellis.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.proxy.host.Mounts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code trellis up --netns} end to end (root): the README's namespace walkthrough run exactly as written (eBPF
 * redirection where this kernel allows it), and the nftables fallback with an unmodified gRPC client in a pod. Both
 * end with {@code trellis down} and check that no process, namespace, link, cgroup, eBPF pin or nftables table of the
 * run is left on the host.
 */
class NetnsRunIT {

  static final Path ROOT = LocalRunIT.ROOT;
  static final String MESH = "examples/netns/mesh.yaml";
  private final List<Path> stateDirs = new ArrayList<>();

  @BeforeEach
  void needsTheHostTools() {
    HostTools.require(HostTools.Tool.IP, HostTools.Tool.NFT, HostTools.Tool.CURL);
  }

  @AfterEach
  void downWhateverIsLeft() throws Exception {
    for (Path dir : stateDirs) {
      LocalRunIT.trellis("down", "--state-dir", dir.toString());
    }
  }

  @Test
  void theReadmeNamespaceWalkthroughRunsAsWrittenAndDownLeavesNothingBehind() throws Exception {
    Path state = ROOT.resolve(".trellis/run");
    stateDirs.add(state);
    String readme = Files.readString(ROOT.resolve("README.md"));
    Matcher block = Pattern.compile("<!-- netns-quick-start -->\\s*```bash\\n(.*?)```\\s*<!-- /netns-quick-start -->",
        Pattern.DOTALL).matcher(readme);
    assertThat(block.find()).as("README.md has a bash block between <!-- netns-quick-start --> markers").isTrue();
    String tables = hostNftTables();
    // The block's last command is 'down': run everything before it first, to see the run's pids and names.
    String script = block.group(1);
    int down = script.lastIndexOf("./trellis down");
    LocalRunIT.Result r = LocalRunIT.run(List.of("bash", "-e", "-c", script.substring(0, down)));
    assertThat(r.exit()).as(r.output()).isZero();
    assertThat(r.output()).contains("The mesh is up", "attached (10.61.1.10 in trellis-pod-demo-client-0, captured)",
        "attached (10.61.1.20 in trellis-pod-demo-outsider-0, not in the mesh)",
        "\"workload\":\"web-v2-0\",\"version\":\"v2\"", "\"sourcePrincipal\":\"spiffe://cluster.local/ns/demo/sa/client\"",
        "\"destinationPrincipal\":\"spiffe://cluster.local/ns/demo/sa/web\"", "\"mtls\":true", "\"traceId\":\"",
        "\"traceparent\":\"00-",
        "outsider: no route to the VIP", "outsider: refused by STRICT mTLS");
    assertThat(Pattern.compile("(\\d+) \"workload\":\"web-(v1|flaky)-0\"").matcher(r.output()).results()
        .mapToInt(m -> Integer.parseInt(m.group(1))).sum() + count(r.output(), "web-v2-0"))
        .as("all 20 calls answered 200 by a web instance (retries hid the flaky one's 503s)").isEqualTo(20);
    List<Long> pids = LocalRunIT.pids(state);
    assertThat(pids).hasSize(9);
    List<String> names = namespaces(state);

    LocalRunIT.Result d = LocalRunIT.run(List.of("bash", "-e", "-c", script.substring(down)));
    assertThat(d.exit()).as(d.output()).isZero();
    assertThat(d.output()).contains("Removed 9 network namespaces", "Stopped 9 process(es)");
    assertNothingLeft(pids, names, tables);
    assertThat(state.resolve("run.json")).doesNotExist();
  }

  @Test
  void theNftablesFallbackCapturesAnUnmodifiedGrpcClientAndDownLeavesNothingBehind(@TempDir Path state)
      throws Exception {
    stateDirs.add(state);
    String tables = hostNftTables();
    LocalRunIT.Result up = LocalRunIT.trellis("up", "--netns", "--redirect", "nftables", "--state-dir", state.toString(),
        MESH);
    assertThat(up.exit()).as(up.output()).isZero();
    assertThat(up.output()).contains("ready (pid").contains("nftables redirection").doesNotContain("eBPF redirection");
    List<String> exec = new ArrayList<>(List.of(ROOT.resolve("trellis").toString(), "exec", "--state-dir",
        state.toString(), "demo/client-0", "--"));
    exec.addAll(NamespaceCluster.java(GrpcCall.class, "10.96.61.30:50051", "5"));
    LocalRunIT.Result grpc = LocalRunIT.run(exec);
    assertThat(grpc.exit()).as(grpc.output()).isZero();
    assertThat(grpc.output().lines().filter(l -> l.startsWith("ok")).count()).as(grpc.output()).isEqualTo(5);
    assertThat(Files.readString(state.resolve("node-1.access.log"))).as("the greeter on the caller's own node")
        .contains("\"sourcePrincipal\":\"spiffe://cluster.local/ns/demo/sa/client\"")
        .contains("\"destinationPrincipal\":\"spiffe://cluster.local/ns/demo/sa/greeter\"");
    // The debug admin listens on 127.0.0.1 inside the node's namespace: the CLI reads it from in there.
    LocalRunIT.Result dump = LocalRunIT.trellis("config-dump", "node-1", "--state-dir", state.toString());
    assertThat(dump.exit()).as(dump.output()).isZero();
    assertThat(dump.output()).contains("\"demo/client-0\"", "spiffe://cluster.local/ns/demo/sa/client");
    LocalRunIT.Result status = LocalRunIT.trellis("status", "--state-dir", state.toString());
    assertThat(status.output()).contains("spiffe://cluster.local/ns/demo/sa/greeter").doesNotContain("(debug admin");

    List<Long> pids = LocalRunIT.pids(state);
    List<String> names = namespaces(state);
    LocalRunIT.Result down = LocalRunIT.trellis("down", "--state-dir", state.toString());
    assertThat(down.exit()).as(down.output()).isZero();
    assertNothingLeft(pids, names, tables);
    LocalRunIT.Result again = LocalRunIT.trellis("down", "--state-dir", state.toString());
    assertThat(again.exit()).isZero();
    assertThat(again.output()).contains("nothing to stop");
  }

  @Test
  void aWorkloadThatFailsStopsTheRunAndRemovesItsNetworkAndALoopbackMeshIsRefusedFieldByField(@TempDir Path state)
      throws Exception {
    stateDirs.add(state);
    String tables = hostNftTables();
    LocalRunIT.Result loopback = LocalRunIT.trellis("up", "--netns", "--state-dir", state.toString(),
        "examples/demo/mesh.yaml");
    assertThat(loopback.exit()).as(loopback.output()).isEqualTo(2);
    assertThat(loopback.output()).contains("nodes[0].address: 127.0.61.1 is a loopback address")
        .contains("workloads[1].address: 127.0.61.11 is a loopback address");
    assertThat(Path.of("/var/run/netns/trellis-hub")).doesNotExist();

    Path mesh = state.resolve("failing.yaml");
    Files.writeString(mesh, Files.readString(ROOT.resolve(MESH)).replace(
        "labels: {app: greeter, version: v1}, run: {demo: grpc}}",
        "labels: {app: greeter, version: v1}, run: {command: [sh, -c, 'echo cannot start >&2; exit 3']}}"));
    LocalRunIT.Result up = LocalRunIT.trellis("up", "--netns", "--state-dir", state.toString(), mesh.toString());
    assertThat(up.exit()).as(up.output()).isEqualTo(1);
    assertThat(up.output()).contains("demo/greeter-0 exited before it was ready", "| cannot start",
        "Stopping the 9 process(es) this run started");
    assertNothingLeft(List.of(), List.of("trellis-hub", "trellis-node-node-1", "trellis-node-node-2",
        "trellis-pod-demo-client-0", "trellis-pod-demo-greeter-0"), tables);
    assertThat(state.resolve("run.json")).doesNotExist();
  }

  @Test
  void aHostFirewallDroppingTheLinkIsNamedInTheErrorAndTheRunIsRemoved(@TempDir Path state) throws Exception {
    stateDirs.add(state);
    String tables = hostNftTables();
    String table = "trellis-it-firewall";
    LocalRunIT.Result add;
    try {
      Path rules = state.resolve("firewall.nft");
      Files.writeString(rules, "table inet " + table + " {\n chain input {\n  type filter hook input priority -10; "
          + "policy accept;\n  iifname \"trellis0\" drop\n }\n}\n");
      add = LocalRunIT.run(List.of("nft", "-f", rules.toString()));
      assertThat(add.exit()).as(add.output()).isZero();
      LocalRunIT.Result up = LocalRunIT.trellis("up", "--netns", "--timeout", "40s", "--state-dir", state.toString(),
          MESH);
      assertThat(up.exit()).as(up.output()).isEqualTo(1);
      assertThat(up.output()).contains("node-1 was not ready within 40s")
          .contains("dials the control plane at 10.61.0.254:15010 through the host link trellis0")
          .contains("ufw allow in on trellis0");
    } finally {
      LocalRunIT.run(List.of("nft", "delete", "table", "inet", table));
    }
    assertNothingLeft(List.of(), List.of("trellis-hub", "trellis-node-node-1", "trellis-pod-demo-client-0"), tables);
  }

  static void assertNothingLeft(List<Long> pids, List<String> names, String tablesBefore) throws Exception {
    assertThat(pids).allSatisfy(pid -> assertThat(ProcessHandle.of(pid).filter(ProcessHandle::isAlive))
        .as("process %d", pid).isEmpty());
    assertThat(names).contains("trellis-hub", "trellis-node-node-1");
    for (String n : names) {
      assertThat(Path.of("/var/run/netns", n)).as("network namespace %s", n).doesNotExist();
    }
    assertThat(Path.of("/sys/class/net/trellis0")).as("the host's link").doesNotExist();
    try (Stream<Path> pins = Files.list(Path.of("/sys/fs/bpf"))) {
      assertThat(pins.map(p -> p.getFileName().toString())).as("eBPF pins").noneMatch(f -> f.startsWith("trellis-up-"));
    }
    Path cgroup2 = Mounts.fetch().cgroup2().orElseThrow();
    assertThat(cgroup2.resolve("trellis-up")).as("the pods' cgroups").doesNotExist();
    assertThat(hostNftTables()).as("the host's nftables tables").isEqualTo(tablesBefore);
  }

  static String hostNftTables() throws Exception {
    return LocalRunIT.run(List.of("nft", "list", "tables")).output();
  }

  private static int count(String text, String word) {
    Matcher m = Pattern.compile("(\\d+) \"workload\":\"" + Pattern.quote(word) + "\"").matcher(text);
    return m.find() ? Integer.parseInt(m.group(1)) : 0;
  }

  /** The network namespaces of the run in {@code state} (its run.json), the hub first. */
  static List<String> namespaces(Path state) throws Exception {
    List<String> names = new ArrayList<>(List.of("trellis-hub"));
    Matcher m = Pattern.compile("\"netns\": \"([^\"]+)\"").matcher(Files.readString(state.resolve("run.json")));
    while (m.find()) {
      names.add(m.group(1));
    }
    return names;
  }
}
