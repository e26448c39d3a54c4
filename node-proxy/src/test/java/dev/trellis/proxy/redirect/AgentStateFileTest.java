package dev.trellis.proxy.redirect;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AgentStateFileTest {

  @TempDir
  Path dir;

  @Test
  void aFileAnEarlierAgentWroteLoads() throws Exception {
    // The format as written before the agent had its own attachment type: a restarted agent must take it back.
    Path file = dir.resolve("agent-state.json");
    Files.writeString(file, """
        {"version": 1, "pods": [
          {"containerId": "c1", "netns": "/var/run/netns/p1", "ifname": "eth0", "namespace": "demo", "pod": "web-0",
           "podUid": "u-1", "ips": ["10.1.0.7", "fd00::7"], "captured": true},
          {"containerId": "c2", "netns": null, "ifname": "eth0", "namespace": "plain", "pod": "app-0",
           "podUid": null, "ips": [], "captured": false}]}""");
    assertThat(new AgentStateFile(file).load()).containsExactly(
        new AgentStateFile.Entry(new PodAttachment("c1", "/var/run/netns/p1", "eth0", "demo", "web-0", "u-1",
            List.of("10.1.0.7", "fd00::7")), true),
        new AgentStateFile.Entry(new PodAttachment("c2", null, "eth0", "plain", "app-0", null, List.of()), false));
  }

  @Test
  void whatItSavesLoadsBack() throws Exception {
    AgentStateFile state = new AgentStateFile(dir.resolve("run/agent-state.json"));
    List<AgentStateFile.Entry> entries = List.of(new AgentStateFile.Entry(new PodAttachment("c1", "/n", "eth0", "demo",
        "web-0", "u-1", List.of("10.1.0.7")), true));
    state.save(entries);
    assertThat(state.load()).isEqualTo(entries);
  }
}
