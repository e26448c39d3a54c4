package dev.trellis.it;

import static dev.trellis.it.LocalRunIT.CLIENT;
import static dev.trellis.it.LocalRunIT.ENTRY;
import static dev.trellis.it.LocalRunIT.trellis;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code trellis restart control-plane --kill} and {@code trellis restart NODE --node-agent} on a running mesh: the
 * old process is gone, the new one is recorded in run.json and shown by {@code trellis status}, requests through the
 * mesh still succeed, and {@code trellis down} leaves no process behind. A loopback run has no node agents (its
 * {@code --node-agent} is refused); the namespace run ({@code up --netns}, root) restarts node-1's agent.
 */
class LocalRestartAllIT {

  private final List<Path> stateDirs = new ArrayList<>();

  @AfterEach
  void down() throws Exception {
    for (Path dir : stateDirs) {
      trellis("down", "--state-dir", dir.toString());
      Path keep = Path.of("target", "local-restart-all-logs");
      Files.createDirectories(keep);
      try (var logs = Files.list(dir)) {
        for (Path log : logs.filter(f -> f.getFileName().toString().endsWith(".log")).toList()) {
          Files.copy(log, keep.resolve(log.getFileName()), StandardCopyOption.REPLACE_EXISTING);
        }
      }
    }
  }

  @Test
  void aKilledControlPlaneIsStartedAgainRecordedAndTheMeshStillServesThenDownLeavesNoProcess(@TempDir Path state)
      throws Exception {
    stateDirs.add(state);
    LocalRunIT.Result up = trellis("up", "examples/demo/mesh.yaml", "--state-dir", state.toString(), "--zipkin", "none");
    assertThat(up.exit()).as(up.output()).isZero();
    List<Long> before = LocalRunIT.pids(state);
    assertThat(count(Files.readString(state.resolve("run.json")), "\"relaunch\"")).as("a relaunch for every process")
        .isEqualTo(before.size());
    long oldPlane = pid(state, "control-plane", "CONTROL_PLANE");

    LocalRunIT.Result restart = trellis("restart", "control-plane", "--kill", "--state-dir", state.toString());
    System.out.println(restart.output());
    assertThat(restart.exit()).as(restart.output()).isZero();
    assertThat(restart.output()).contains("old  pid " + oldPlane, "killed (SIGKILL)", "new  pid", "ready after",
        "control-plane.2.log", "Control plane now runs as pid");
    long newPlane = pid(state, "control-plane", "CONTROL_PLANE");
    assertThat(newPlane).isNotEqualTo(oldPlane);
    assertThat(restart.output()).contains("new  pid " + newPlane);
    assertThat(ProcessHandle.of(oldPlane).map(ProcessHandle::isAlive)).isNotEqualTo(Optional.of(true));
    awaitRequestsThroughTheMesh();
    // The node proxies reconnect to the new control plane: status lists them as its xDS clients again.
    await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
      LocalRunIT.Result status = trellis("status", "--state-dir", state.toString());
      assertThat(status.exit()).as(status.output()).isZero();
      assertThat(status.output()).contains(String.valueOf(newPlane), "CDS=").doesNotContain("DEAD")
          .doesNotContain(" " + oldPlane + " ");
    });

    LocalRunIT.Result agent = trellis("restart", "node-1", "--node-agent", "--state-dir", state.toString());
    assertThat(agent.exit()).as(agent.output()).isEqualTo(2);
    assertThat(agent.output()).contains("node node-1 has no node agent in this run", "--netns");
    LocalRunIT.Result kill = trellis("restart", "node-1", "--kill", "--state-dir", state.toString());
    assertThat(kill.exit()).as(kill.output()).isEqualTo(2);
    assertThat(kill.output()).contains("--kill is refused for a node proxy", "drain");
    LocalRunIT.Result unknown = trellis("restart", "node-9", "--state-dir", state.toString());
    assertThat(unknown.exit()).as(unknown.output()).isEqualTo(2);
    assertThat(unknown.output()).contains("valid names: control-plane, node-1, node-2");

    List<Long> after = LocalRunIT.pids(state);
    assertThat(after).contains(newPlane).doesNotContain(oldPlane);
    LocalRunIT.Result down = trellis("down", "--state-dir", state.toString());
    assertThat(down.exit()).as(down.output()).isZero();
    assertThat(after).allSatisfy(pid -> assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive)).as("pid " + pid)
        .isNotEqualTo(Optional.of(true)));
  }

  @Test
  void inANamespaceRunTheControlPlaneAndANodeAgentRestartAndPodsStayCapturedThenDownLeavesNoProcess(
      @TempDir Path state) throws Exception {
    HostTools.require(HostTools.Tool.IP, HostTools.Tool.NFT, HostTools.Tool.CURL);
    stateDirs.add(state);
    LocalRunIT.Result up = trellis("up", "--netns", "--redirect", "nftables", "--state-dir", state.toString(),
        NetnsRunIT.MESH);
    assertThat(up.exit()).as(up.output()).isZero();
    assertThat(count(Files.readString(state.resolve("run.json")), "\"relaunch\"")).as("a relaunch for every process")
        .isEqualTo(LocalRunIT.pids(state).size());
    long oldPlane = pid(state, "control-plane", "CONTROL_PLANE");
    long oldAgent = pid(state, "node-1", "NODE_AGENT");

    LocalRunIT.Result plane = trellis("restart", "control-plane", "--kill", "--state-dir", state.toString());
    assertThat(plane.exit()).as(plane.output()).isZero();
    assertThat(plane.output()).contains("old  pid " + oldPlane, "killed (SIGKILL)", "ready after");
    LocalRunIT.Result agent = trellis("restart", "node-1", "--node-agent", "--state-dir", state.toString());
    System.out.println(plane.output() + agent.output());
    assertThat(agent.exit()).as(agent.output()).isZero();
    assertThat(agent.output()).contains("old  pid " + oldAgent, "exited on SIGTERM", "ready after",
        "node-1.agent.2.log", "Node agent of node-1 now runs as pid");
    long newPlane = pid(state, "control-plane", "CONTROL_PLANE");
    long newAgent = pid(state, "node-1", "NODE_AGENT");
    assertThat(List.of(newPlane, newAgent)).doesNotContain(oldPlane, oldAgent);
    assertThat(ProcessHandle.of(oldPlane).map(ProcessHandle::isAlive)).isNotEqualTo(Optional.of(true));
    assertThat(ProcessHandle.of(oldAgent).map(ProcessHandle::isAlive)).isNotEqualTo(Optional.of(true));
    assertThat(Files.readString(state.resolve("node-1.agent.2.log"))).contains("trellis node agent up", "nftables");

    // The pods of node-1 stay captured: an unmodified call from client-0 reaches web (node-2) and the greeter.
    LocalRunIT.Result curl = LocalRunIT.run(List.of(LocalRunIT.ROOT.resolve("trellis").toString(), "exec",
        "--state-dir", state.toString(), "demo/client-0", "--", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
        "--max-time", "10", "--retry", "3", "--retry-all-errors", "http://10.96.61.10:8080/"));
    assertThat(curl.output()).as(curl.output()).endsWith("200");
    List<String> exec = new ArrayList<>(List.of(LocalRunIT.ROOT.resolve("trellis").toString(), "exec", "--state-dir",
        state.toString(), "demo/client-0", "--"));
    exec.addAll(NamespaceCluster.java(GrpcCall.class, "10.96.61.30:50051", "5"));
    LocalRunIT.Result grpc = LocalRunIT.run(exec);
    assertThat(grpc.exit()).as(grpc.output()).isZero();
    assertThat(grpc.output().lines().filter(l -> l.startsWith("ok")).count()).as(grpc.output()).isEqualTo(5);

    // Outbound capture by nftables TPROXY (the chaos suite runs the eBPF mode): node-1's proxy is upgraded while
    // client-0 calls web through it, a new connection per call; no call fails across the switch.
    Path stop = state.resolve("calls.stop");
    Path codes = state.resolve("calls.codes");
    Process calls = new ProcessBuilder(LocalRunIT.ROOT.resolve("trellis").toString(), "exec", "--state-dir",
        state.toString(), "demo/client-0", "--", "sh", "-c", "while [ ! -e " + stop + " ]; do curl -s -o /dev/null "
            + "-w '%{http_code}\\n' --max-time 10 http://10.96.61.10:8080/; done")
        .redirectErrorStream(true).redirectOutput(codes.toFile()).start();
    LocalRunIT.Result upgrade;
    try {
      await().atMost(Duration.ofSeconds(60)).until(() -> Files.readAllLines(codes).size() >= 20);
      upgrade = trellis("restart", "node-1", "--state-dir", state.toString());
      int before = Files.readAllLines(codes).size();
      await().atMost(Duration.ofSeconds(60)).until(() -> Files.readAllLines(codes).size() >= before + 20);
    } finally {
      Files.writeString(stop, "");
      if (!calls.waitFor(30, TimeUnit.SECONDS)) {
        calls.destroyForcibly();
      }
    }
    System.out.println(upgrade.output());
    assertThat(upgrade.exit()).as(upgrade.output()).isZero();
    assertThat(upgrade.output()).contains("exited on SIGTERM");
    List<String> answered = Files.readAllLines(codes);
    assertThat(answered).as("calls from client-0 across node-1's upgrade (nftables TPROXY)").hasSizeGreaterThan(40)
        .containsOnly("200");

    LocalRunIT.Result status = trellis("status", "--state-dir", state.toString());
    assertThat(status.exit()).as(status.output()).isZero();
    assertThat(status.output()).contains(String.valueOf(newPlane), String.valueOf(newAgent)).doesNotContain("DEAD");

    List<Long> after = LocalRunIT.pids(state);
    LocalRunIT.Result down = trellis("down", "--state-dir", state.toString());
    assertThat(down.exit()).as(down.output()).isZero();
    assertThat(after).contains(newPlane, newAgent).allSatisfy(pid -> assertThat(ProcessHandle.of(pid)
        .map(ProcessHandle::isAlive)).as("pid " + pid).isNotEqualTo(Optional.of(true)));
  }

  private static void awaitRequestsThroughTheMesh() {
    await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200)).untilAsserted(() -> {
      int ok = 0;
      for (int i = 0; i < 10; i++) {
        try (MeshHttpClient c = MeshHttpClient.over(MeshHttpClient.socks(ENTRY, CLIENT, "10.96.61.10", 8080))) {
          ok += c.get("/").status() == 200 ? 1 : 0;
        } catch (IOException e) {
          // counted as not ok
        }
      }
      assertThat(ok).as("requests through node-1's entry answered 200").isEqualTo(10);
    });
  }

  private static long pid(Path state, String name, String role) throws IOException {
    Matcher m = Pattern.compile("\"name\": \"" + Pattern.quote(name) + "\",\\s*\"role\": \"" + role
        + "\",\\s*\"pid\": (\\d+)").matcher(Files.readString(state.resolve("run.json")));
    assertThat(m.find()).as("run.json has " + role + " " + name).isTrue();
    return Long.parseLong(m.group(1));
  }

  private static int count(String text, String word) {
    return (int) Pattern.compile(Pattern.quote(word)).matcher(text).results().count();
  }
}
