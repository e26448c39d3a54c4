package dev.trellis.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.trellis.cni.CniPlugin;
import dev.trellis.proxy.cni.CniInstaller;
import dev.trellis.proxy.redirect.Redirection;
import dev.trellis.proxy.redirect.Redirector;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The node agent root wired end to end in local mode, with a recording redirector instead of the kernel's: the
 * plugin's ADD through the socket, a label change in the pods file reconciled, a restart taking its pods back.
 */
class NodeAgentTest {

  @TempDir
  Path dir;

  final List<String> redirections = new CopyOnWriteArrayList<>();

  final Redirector recording = new Redirector() {
    @Override
    public void install(Target t) {
      redirections.add("install " + t.pod());
    }

    @Override
    public void remove(Target t) {
      redirections.add("remove " + t.pod());
    }

    @Override
    public boolean verify(Target t) {
      return true;
    }

    @Override
    public String name() {
      return "recording";
    }
  };

  static String podsFile(String demoLabel) {
    return "{\"namespaces\": {\"demo\": {" + demoLabel + "}}, \"pods\": [{\"namespace\": \"demo\", \"name\": \"web-0\","
        + " \"uid\": \"u-web-0\"}]}";
  }

  NodeAgentOptions options() {
    return new NodeAgentOptions(new NodeAgentOptions.PodSource.File(dir.resolve("pods.json")),
        dir.resolve("run/cni.sock"), new Redirection.Settings(Redirection.Mode.NFTABLES, null, dir.resolve("pins")),
        dir.resolve("run/agent-state.json"), Optional.empty(), Optional.empty());
  }

  NodeAgent start() throws IOException {
    return new NodeAgent(options(), s -> Redirection.of(recording, "recording")).start();
  }

  CniPlugin.Outcome add(String command) {
    String config = "{\"cniVersion\": \"1.0.0\", \"name\": \"k8s\", \"type\": \"trellis-cni\", \"agentSocket\": \""
        + dir.resolve("run/cni.sock") + "\", \"prevResult\": {\"cniVersion\": \"1.0.0\", \"ips\": [{\"address\": "
        + "\"10.1.0.7/24\"}]}}";
    return CniPlugin.overUnixSocket().run(Map.of("CNI_COMMAND", command, "CNI_CONTAINERID", "ctr-web-0", "CNI_NETNS",
        "/var/run/netns/web-0", "CNI_IFNAME", "eth0", "CNI_ARGS",
        "K8S_POD_NAMESPACE=demo;K8S_POD_NAME=web-0;K8S_POD_UID=u-web-0"), config);
  }

  @Test
  void itCapturesThroughItsSocketFollowsTheFileAndTakesItsPodsBackAfterARestart() throws Exception {
    Files.writeString(dir.resolve("pods.json"), podsFile("\"trellis.dev/mesh\": \"enabled\""));
    try (NodeAgent agent = start()) {
      assertThat(agent.describe()).isEqualTo("trellis node agent up: recording, 0 pods captured, CNI socket "
          + dir.resolve("run/cni.sock"));
      assertThat(add("ADD").exitCode()).isZero();
      assertThat(redirections).containsExactly("install web-0");

      Files.writeString(dir.resolve("pods.json"), podsFile("")); // the namespace leaves the mesh
      await().atMost(Duration.ofSeconds(10)).until(() -> redirections.contains("remove web-0"));
      Files.writeString(dir.resolve("pods.json"), podsFile("\"trellis.dev/mesh\": \"enabled\""));
      await().atMost(Duration.ofSeconds(10)).until(() -> redirections.size() == 3);
      assertThat(redirections).containsExactly("install web-0", "remove web-0", "install web-0");
    }
    assertThat(dir.resolve("run/cni.sock")).as("closing takes the socket away").doesNotExist();
    assertThat(add("ADD").exitCode()).as("no agent: try again later").isEqualTo(1);

    redirections.clear();
    try (NodeAgent restarted = start()) {
      assertThat(redirections).as("the captured pod is installed again from the state file").containsExactly(
          "install web-0");
      assertThat(restarted.captureAgent().capturedContainers()).containsExactly("ctr-web-0");
      assertThat(add("DEL").exitCode()).isZero();
      assertThat(redirections).containsExactly("install web-0", "remove web-0");
    }
  }

  @Test
  void aStartThatFailsLateClosesWhatItOpened() throws Exception {
    Files.writeString(dir.resolve("pods.json"), podsFile("\"trellis.dev/mesh\": \"enabled\""));
    Path emptyPlugin = Files.createDirectories(dir.resolve("no-plugin"));
    NodeAgentOptions o = options();
    NodeAgentOptions withCni = new NodeAgentOptions(o.pods(), o.socket(), o.redirection(), o.stateFile(),
        Optional.of(new CniInstaller.Dirs(Files.createDirectories(dir.resolve("bin")),
            Files.createDirectories(dir.resolve("net.d")), emptyPlugin)), Optional.empty());
    NodeAgent agent = new NodeAgent(withCni, s -> Redirection.of(recording, "recording"));
    assertThatThrownBy(agent::start).isInstanceOf(IOException.class)
        .hasMessageStartingWith("installing the CNI plugin: ").hasMessageContaining(emptyPlugin.toString());
    assertThat(dir.resolve("run/cni.sock")).as("the socket it had opened is closed again").doesNotExist();
  }

  @Test
  void aBadPodsFileStopsTheStartNamingTheFile() throws Exception {
    Files.writeString(dir.resolve("pods.json"), "{ not json");
    assertThatThrownBy(this::start).isInstanceOf(IOException.class).hasMessageContaining("pods.json");
  }
}
