package dev.trellis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class DownGraceTest {

  private static RunState.Entry proxy(String name, List<String> command) {
    return new RunState.Entry(name, RunState.Role.NODE_PROXY, 1, "/r/" + name + ".log", "127.0.61.1", List.of(),
        null, null, command == null ? null : new RunState.Relaunch(command, Map.of(), "/r"));
  }

  private static List<String> command(String drainArgs) {
    List<String> c = new ArrayList<>(List.of("java", "NodeProxyMain", "--node", "n"));
    if (!drainArgs.isBlank()) {
      c.addAll(List.of(drainArgs.strip().split(" ")));
    }
    return c;
  }

  /** 'trellis down' without --grace waits longer than any node proxy's drain, so SIGKILL never cuts one. */
  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      // node-1's flags             | node-2's flags          | grace
      "                              |                         | 30",
      "--drain-timeout 45s           |                         | 55",
      "--drain-timeout=2m            | --drain-timeout 5s      | 130",
      "--drain-timeout 5s            | --drain-timeout 500ms   | 30",
      "--drain-timeout 1s --drain-timeout 40s |               | 50",
      "--drain-timeout nonsense      |                         | 30",
      "NONE                          | NONE                    | 30",
  })
  void theDefaultGraceIsTheLongestDrainPlusTenSeconds(String one, String two, int seconds) {
    List<RunState.Entry> entries = new ArrayList<>();
    entries.add(new RunState.Entry("control-plane", RunState.Role.CONTROL_PLANE, 1, "/r/control-plane.log",
        "127.0.0.1", List.of(), null, null));
    entries.add(proxy("node-1", one != null && one.equals("NONE") ? null : command(one == null ? "" : one)));
    entries.add(proxy("node-2", two != null && two.equals("NONE") ? null : command(two == null ? "" : two)));
    assertThat(DownCommand.defaultGrace(new RunState("/m.yaml", "t", entries))).isEqualTo(Duration.ofSeconds(seconds));
  }
}
