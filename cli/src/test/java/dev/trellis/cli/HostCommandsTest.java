package dev.trellis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The one-shot commands of {@code up --netns}/{@code down}, and the readiness probe that reads a log. */
class HostCommandsTest {

  @TempDir
  Path dir;

  @Test
  void aCommandGetsItsStdinAndEnvironmentAndReportsItsExitAndOutput() {
    HostCommands.Result r = HostCommands.run(List.of("sh", "-c", "cat; echo \" $X\"; echo oops >&2; exit 3"),
        Map.of("X", "env-seen"), "from stdin", Duration.ofSeconds(10));
    assertThat(r.exit()).isEqualTo(3);
    assertThat(r.ok()).isFalse();
    assertThat(r.output()).contains("from stdin env-seen").contains("oops");
  }

  @Test
  void aCommandThatOutlivesItsTimeoutIsKilledAndSaysSo() {
    HostCommands.Result r = HostCommands.run(List.of("sleep", "30"), Map.of(), "", Duration.ofMillis(200));
    assertThat(r.exit()).isEqualTo(124);
    assertThat(r.output()).startsWith("'sleep 30' did not finish within 200 ms");
  }

  @Test
  void aMissingProgramIsAnErrorNamingIt() {
    HostCommands.Result r = HostCommands.run(List.of("trellis-no-such-program"));
    assertThat(r.exit()).isEqualTo(127);
    assertThat(r.output()).startsWith("cannot run 'trellis-no-such-program'");
  }

  @Test
  void aLogProbePassesOnceTheProcessLogHasTheLine() throws Exception {
    Path log = dir.resolve("agent.log");
    LaunchPlan.Launch agent = new LaunchPlan.Launch("node-1", RunState.Role.NODE_AGENT, List.of("true"), Map.of(), dir,
        log, "10.61.0.1", List.of(), null, List.of(LaunchPlan.LOG_PROBE + LaunchPlan.AGENT_UP), null, null);
    LocalProcesses processes = new LocalProcesses(Clock.systemUTC());
    String probe = agent.ready().getFirst();
    assertThat(processes.passes(probe, agent)).as("no log yet").isFalse();
    Files.writeString(log, "starting\n");
    assertThat(processes.passes(probe, agent)).isFalse();
    Files.writeString(log, "starting\ntrellis node agent up: nftables TPROXY, 0 pods captured\n");
    assertThat(processes.passes(probe, agent)).isTrue();
  }
}
