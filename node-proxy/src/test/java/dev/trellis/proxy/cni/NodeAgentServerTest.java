package dev.trellis.proxy.cni;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonParser;
import dev.trellis.cni.CniPlugin;
import dev.trellis.proxy.redirect.CaptureAgent;
import dev.trellis.proxy.redirect.Enrollment;
import dev.trellis.proxy.redirect.PodDirectory;
import dev.trellis.proxy.redirect.Redirector;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CNI plugin, its socket client, the agent's socket server and the capture agent, together. */
class NodeAgentServerTest {

  @TempDir
  Path dir;

  final List<String> installs = new ArrayList<>();
  NodeAgentServer server;
  CaptureAgent agent;
  CniPlugin plugin;

  @BeforeEach
  void start() throws IOException {
    PodDirectory pods = (ns, name, uid) -> Optional.of(new PodDirectory.Pod(ns, name, uid, Map.of(),
        ns.equals("demo") ? Map.of(Enrollment.LABEL, "enabled") : Map.of(), false));
    agent = new CaptureAgent(pods, new Redirector() {
      @Override
      public void install(Target t) {
        installs.add("install " + t.pod() + " " + t.ips());
      }

      @Override
      public void remove(Target t) {
        installs.add("remove " + t.pod());
      }

      @Override
      public boolean verify(Target t) {
        return true;
      }

      @Override
      public String name() {
        return "test";
      }
    });
    agent.ready();
    server = NodeAgentServer.start(dir.resolve("run/cni.sock"), agent);
    plugin = CniPlugin.overUnixSocket();
  }

  @AfterEach
  void stop() throws IOException {
    server.close();
  }

  String config() {
    return "{\"cniVersion\": \"1.0.0\", \"name\": \"k8s\", \"type\": \"trellis-cni\", \"agentSocket\": \""
        + server.socket() + "\", \"prevResult\": " + PREV + "}";
  }

  /** What the cluster's own CNI plugin handed on: the pod's addresses. */
  static final String PREV = """
      {"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "sandbox": "/var/run/netns/p1"}],
       "ips": [{"address": "10.1.0.7/24", "interface": 0}, {"address": "fd00::7/64", "interface": 0}]}""";

  static Map<String, String> env(String command, String ns, String pod) {
    return Map.of("CNI_COMMAND", command, "CNI_CONTAINERID", "c0ffee", "CNI_NETNS", "/var/run/netns/p1",
        "CNI_IFNAME", "eth0", "CNI_PATH", "/opt/cni/bin",
        "CNI_ARGS", "K8S_POD_NAMESPACE=" + ns + ";K8S_POD_NAME=" + pod + ";K8S_POD_UID=u-" + pod);
  }

  @Test
  void addCapturesAnEnrolledPodBeforeAnswering() {
    CniPlugin.Outcome o = plugin.run(env("ADD", "demo", "web-0"), config());
    assertThat(o.exitCode()).as(o.stdout()).isZero();
    assertThat(JsonParser.parseString(o.stdout())).isEqualTo(JsonParser.parseString(PREV));
    assertThat(installs).containsExactly("install web-0 [10.1.0.7, fd00::7]");
    assertThat(plugin.run(env("CHECK", "demo", "web-0"), config()).exitCode()).isZero();
    assertThat(plugin.run(env("DEL", "demo", "web-0"), config()).exitCode()).isZero();
    assertThat(installs).containsExactly("install web-0 [10.1.0.7, fd00::7]", "remove web-0");
    assertThat(agent.capturedContainers()).isEmpty();
  }

  @Test
  void aPodOutsideEnrolledNamespacesStartsUntouched() {
    assertThat(plugin.run(env("ADD", "plain", "app-0"), config()).exitCode()).isZero();
    assertThat(installs).isEmpty();
  }

  @Test
  void aMalformedRequestGetsAnErrorAndTheServerGoesOn() throws IOException {
    try (SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      c.connect(UnixDomainSocketAddress.of(server.socket()));
      c.write(ByteBuffer.wrap("{\"op\": \"fly\"}\n".getBytes(StandardCharsets.UTF_8)));
      ByteBuffer answer = ByteBuffer.allocate(1024);
      while (c.read(answer) >= 0) {
        // until the server closes
      }
      assertThat(new String(answer.array(), 0, answer.position(), StandardCharsets.UTF_8))
          .contains("unknown op 'fly' (expected add, del, check, status or gc)");
    }
    try (SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      c.connect(UnixDomainSocketAddress.of(server.socket()));
      c.write(ByteBuffer.wrap("not json\n".getBytes(StandardCharsets.UTF_8)));
      ByteBuffer answer = ByteBuffer.allocate(1024);
      while (c.read(answer) >= 0) {
        // until the server closes
      }
      assertThat(new String(answer.array(), 0, answer.position(), StandardCharsets.UTF_8)).contains("\"error\"");
    }
    assertThat(plugin.run(env("ADD", "demo", "web-0"), config()).exitCode()).isZero();
  }
}
