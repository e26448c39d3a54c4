package dev.trellis.proxy.egress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.proxy.redirect.AgentStateFile;
import dev.trellis.proxy.redirect.PodAttachment;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PodNamespacesTest {

  @TempDir
  Path dir;

  static AgentStateFile.Entry entry(String container, String netns, boolean captured, String... ips) {
    return new AgentStateFile.Entry(new PodAttachment(container, netns, "eth0", "demo", container, "uid-"
        + container, List.of(ips)), captured);
  }

  static InetAddress ip(String s) {
    return InetAddress.ofLiteral(s);
  }

  @Test
  void onlyCapturedPodsWithANamespaceAreIndexedByEachAddress() {
    var index = PodNamespaces.index(List.of(
        entry("a", "/var/run/netns/a", true, "10.1.0.2", "fd00::2"),
        entry("b", "/var/run/netns/b", false, "10.1.0.3"),
        entry("c", null, true, "10.1.0.4"),
        entry("d", "/var/run/netns/d", true, "10.1.0.5/24", "not-an-ip")));
    assertThat(index).containsOnlyKeys(ip("10.1.0.2"), ip("fd00::2"), ip("10.1.0.5"))
        .containsEntry(ip("fd00::2"), "/var/run/netns/a").containsEntry(ip("10.1.0.5"), "/var/run/netns/d");
  }

  @Test
  void aPodTheAgentCapturesAfterTheFirstLookupIsFoundWithoutWaiting() throws IOException {
    Path file = dir.resolve("agent-state.json");
    AgentStateFile state = new AgentStateFile(file);
    PodNamespaces namespaces = new PodNamespaces(file);
    assertThat(namespaces.find(ip("10.1.0.2"))).as("no file yet").isEmpty();
    state.save(List.of(entry("a", "/var/run/netns/a", true, "10.1.0.2")));
    assertThat(namespaces.find(ip("10.1.0.2"))).contains("/var/run/netns/a");
    state.save(List.of(entry("a", "/var/run/netns/a", true, "10.1.0.2"), entry("b", "/var/run/netns/b", true,
        "10.1.0.3")));
    assertThat(namespaces.find(ip("10.1.0.3"))).contains("/var/run/netns/b");
    state.save(List.of(entry("a", "/var/run/netns/a", false, "10.1.0.2")));
    assertThat(namespaces.find(ip("10.1.0.2"))).as("released").isEqualTo(Optional.empty());
  }

  @Test
  void aDamagedStateFileIsAnErrorNamingIt() throws IOException {
    Path file = dir.resolve("agent-state.json");
    Files.writeString(file, "{\"pods\": [");
    assertThatThrownBy(() -> new PodNamespaces(file).find(ip("10.1.0.2"))).isInstanceOf(IOException.class)
        .hasMessageContaining(file.toString());
  }
}
