package dev.trellis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class RestartLockTest {

  @TempDir Path dir;

  @Test
  void aSecondRestartOfTheSameProcessIsRefusedUntilTheFirstEnds() {
    Path node1 = RestartLock.file(dir, "node-1", false);
    Optional<RestartLock> first = RestartLock.tryAcquire(node1);
    assertThat(first).isPresent();
    assertThat(RestartLock.tryAcquire(node1)).as("while the first holds it").isEmpty();
    assertThat(RestartLock.tryAcquire(RestartLock.file(dir, "node-1", true))).as("node-1's agent is another process")
        .isPresent().get().satisfies(RestartLock::close);
    first.get().close();
    assertThat(RestartLock.tryAcquire(node1)).as("after the first ended").isPresent().get()
        .satisfies(RestartLock::close);
  }

  @Test
  void theCommandSaysWhoHoldsTheLockAndChangesNothing() throws Exception {
    new RunState("/m.yaml", "t", java.util.List.of()).write(dir); // a run state, as 'trellis up' leaves one
    try (RestartLock held = RestartLock.tryAcquire(RestartLock.file(dir, "node-1", false)).orElseThrow()) {
      StringWriter err = new StringWriter();
      CommandLine cli = new CommandLine(new RestartCommand()).setErr(new PrintWriter(err, true));
      int code = cli.execute("node-1", "--state-dir", dir.toString());
      assertThat(code).isEqualTo(2);
      assertThat(err.toString()).contains("another 'trellis restart node-1' of this run is still going")
          .contains("restart-node-1.lock");
    }
  }

  @Test
  void aNameThatIsNoProcessIsRefusedBeforeAnyFileIsMade() {
    new RunState("/m.yaml", "t", java.util.List.of()).write(dir);
    StringWriter err = new StringWriter();
    int code = new CommandLine(new RestartCommand()).setErr(new PrintWriter(err, true))
        .execute("../escape", "--state-dir", dir.toString());
    assertThat(code).isEqualTo(2);
    assertThat(err.toString()).contains("'../escape' is not a process of a run");
    assertThat(dir.resolveSibling("escape.lock")).doesNotExist();
  }
}
