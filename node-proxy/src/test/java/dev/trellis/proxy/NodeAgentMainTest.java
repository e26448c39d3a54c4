package dev.trellis.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The node agent's command line as the DaemonSet (docs/node-agent.md, k8s contract) passes it. */
class NodeAgentMainTest {

  @Test
  void theClusterCommandLineParses() {
    NodeAgentMain.Flags f = NodeAgentMain.parse(("node-agent --kubernetes --node node-1 --socket /var/run/trellis/cni.sock"
        + " --redirect auto --proxy-address 10.0.0.5 --state-file /var/run/trellis/agent-state.json"
        + " --ebpf-pins /sys/fs/bpf/trellis --cni-bin-dir /host/opt/cni/bin --cni-conf-dir /host/etc/cni/net.d"
        + " --cni-plugin-dir /opt/trellis/cni").split(" "));
    assertThat(f.kubernetes()).isTrue();
    assertThat(f.uninstall()).isFalse();
    assertThat(f.opts()).containsEntry("node", "node-1").containsEntry("proxy-address", "10.0.0.5");
    assertThat(f.socket()).isEqualTo("/var/run/trellis/cni.sock");
    assertThat(f.cni()).hasValueSatisfying(d -> {
      assertThat(d.bin()).isEqualTo(Path.of("/host/opt/cni/bin"));
      assertThat(d.conf()).isEqualTo(Path.of("/host/etc/cni/net.d"));
      assertThat(d.plugin()).isEqualTo(Path.of("/opt/trellis/cni"));
    });
  }

  @Test
  void localModeNeedsNoCniFlags() {
    NodeAgentMain.Flags f = NodeAgentMain.parse(new String[] {"--pods", "pods.json"});
    assertThat(f.kubernetes()).isFalse();
    assertThat(f.cni()).isEmpty();
    assertThat(f.socket()).isEqualTo(NodeAgentMain.DEFAULT_SOCKET);
  }

  @Test
  void theCniFlagsGoTogetherAndTheMissingOnesAreNamed() {
    assertThatThrownBy(() -> NodeAgentMain.parse("--pods p.json --cni-bin-dir /b".split(" ")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("missing --cni-conf-dir, --cni-plugin-dir");
    assertThatThrownBy(() -> NodeAgentMain.parse("--pods p.json --cni-bin-dir /b --cni-plugin-dir /p".split(" ")))
        .hasMessageEndingWith("missing --cni-conf-dir");
  }

  @Test
  void aDirectoryOfPodsIsRequiredAndOnlyOne() {
    assertThatThrownBy(() -> NodeAgentMain.parse(new String[0])).hasMessageContaining("--kubernetes --node NAME")
        .hasMessageContaining("--pods FILE");
    assertThatThrownBy(() -> NodeAgentMain.parse(new String[] {"--kubernetes"})).hasMessageContaining("needs --node");
    assertThatThrownBy(() -> NodeAgentMain.parse("--kubernetes --node n --pods p.json".split(" ")))
        .hasMessageContaining("exclude each other");
    assertThat(NodeAgentMain.parse(new String[] {"uninstall"}).uninstall()).isTrue();
  }
}
