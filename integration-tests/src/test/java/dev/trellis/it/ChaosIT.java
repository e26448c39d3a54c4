package dev.trellis.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 19, item 4: the chaos suite ({@link ChaosRun}) in its short form, about 4 minutes as root: HTTP load
 * (paced HTTP/1.1 clients and h2load bursts, h2c and HTTP/1.1), gRPC bidirectional streams and a 1 GiB TCP transfer
 * through a {@code trellis up --netns} mesh while the control plane is killed 3 times, each node proxy upgraded
 * twice, each node agent restarted and the split flipped 20 times. Fails with the figures table and every loss
 * listed. {@code -Dchaos.minutes=N} runs the long form ({@code scripts/chaos --minutes N}). Figures:
 * docs/reliability.md, "Chaos suite"; logs stay in {@code integration-tests/target/chaos}.
 */
class ChaosIT {

  @BeforeEach
  void needsTheHostTools() {
    HostTools.require(HostTools.Tool.IP, HostTools.Tool.NFT, HostTools.Tool.NSENTER, HostTools.Tool.CURL);
    HostTools.require("h2load", "nghttp2-client");
  }

  @Test
  void theMeshLosesNoRequestStreamOrByteThroughKillsUpgradesAgentRestartsAndSplitFlips() throws Exception {
    String minutes = System.getProperty("chaos.minutes", "");
    ChaosRun.Settings settings = minutes.isBlank() ? ChaosRun.Settings.shortForm()
        : ChaosRun.Settings.minutes(Long.parseLong(minutes));
    Path state = Path.of("target", "chaos").toAbsolutePath();
    String tables = NetnsRunIT.hostNftTables();
    if (Files.exists(state.resolve("run.json"))) {
      LocalRunIT.trellis("down", "--state-dir", state.toString()); // an earlier run's, interrupted
    }
    deleteOldLogs(state);
    ChaosRun chaos = new ChaosRun(settings, state);
    List<Long> pids = new ArrayList<>();
    List<String> namespaces = new ArrayList<>();
    ChaosReport.Run run;
    LocalRunIT.Result down;
    try {
      LocalRunIT.Result up = chaos.up();
      assertThat(up.exit()).as(up.output()).isZero();
      pids.addAll(LocalRunIT.pids(state));
      namespaces.addAll(NetnsRunIT.namespaces(state));
      run = chaos.chaos();
      pids.addAll(LocalRunIT.pids(state)); // the last generation of every process
    } finally {
      down = chaos.down();
    }
    ChaosReport report = ChaosReport.judge(chaos.withLeaks(run));
    System.out.println("chaos suite figures (" + (minutes.isBlank() ? "short form" : minutes + " minutes") + "):");
    report.table().forEach(System.out::println);
    report.failures().forEach(f -> System.out.println("chaos FAILURE: " + f));
    assertThat(down.exit()).as(down.output()).isZero();
    assertThat(namespaces).contains("trellis-pod-chaos-client-1");
    NetnsRunIT.assertNothingLeft(pids, namespaces, tables);
    assertThat(report.failures()).as("what the mesh lost under chaos (figures above):\n"
        + String.join("\n", report.table())).isEmpty();
  }

  private static void deleteOldLogs(Path state) throws Exception {
    if (Files.isDirectory(state)) {
      try (var files = Files.list(state)) {
        for (Path f : files.filter(Files::isRegularFile).toList()) {
          Files.delete(f);
        }
      }
    }
  }
}
