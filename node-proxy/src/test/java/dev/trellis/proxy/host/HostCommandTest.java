package dev.trellis.proxy.host;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class HostCommandTest {

  @Test
  void aCommandGetsItsStdinAndEnvironmentAndReportsItsExitAndOutput() throws Exception {
    HostCommand.Result r = HostCommand.run(List.of("sh", "-c", "cat; echo \" $X\"; echo oops >&2; exit 3"),
        Map.of("X", "env-seen"), "from stdin", Duration.ofSeconds(10));
    assertThat(r.exit()).isEqualTo(3);
    assertThat(r.ok()).isFalse();
    assertThat(r.output()).contains("from stdin env-seen").contains("oops");
  }

  @Test
  void withoutInputTheCommandSeesEndOfInputAtOnce() throws Exception {
    HostCommand.Result r = HostCommand.run(List.of("sh", "-c", "cat; echo done"), Duration.ofSeconds(10));
    assertThat(r).isEqualTo(new HostCommand.Result(0, "done"));
  }

  @Test
  void outputLargerThanAPipeBufferDoesNotStallTheCommand() throws Exception {
    HostCommand.Result r = HostCommand.run(List.of("sh", "-c", "i=0; while [ $i -lt 20000 ]; do echo line-$i; "
        + "i=$((i+1)); done"), Duration.ofSeconds(30));
    assertThat(r.ok()).isTrue();
    assertThat(r.output().lines()).hasSize(20000).endsWith("line-19999");
  }

  @Test
  void inputLargerThanAPipeBufferReachesACommandThatReadsItLate() throws Exception {
    String big = "x".repeat(300_000);
    HostCommand.Result r = HostCommand.run(List.of("sh", "-c", "sleep 0.2; wc -c"), Map.of(), big,
        Duration.ofSeconds(30));
    assertThat(r.output()).isEqualTo("300000");
  }

  /**
   * The bug this class fixes: reading the output before waiting meant that a hung program keeping its output open
   * held the caller forever, so the timeout never fired. Here the program holds its output open for 30 s; the run
   * must end at its 300 ms timeout with an error naming the command, and leave no process behind.
   */
  @Test
  void aHungCommandThatKeepsItsOutputOpenFailsAtItsTimeoutNamingTheCommand() {
    long start = System.nanoTime();
    assertThatThrownBy(() -> HostCommand.run(List.of("sleep", "37"), Duration.ofMillis(300)))
        .isInstanceOfSatisfying(HostCommandException.class, e -> {
          assertThat(e.reason()).isEqualTo(HostCommandException.Reason.TIMED_OUT);
          assertThat(e.getMessage()).startsWith("'sleep 37' did not finish within 300 ms and was killed");
        });
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
    await().atMost(Duration.ofSeconds(10)).until(() -> ProcessHandle.current().descendants()
        .noneMatch(p -> p.info().commandLine().orElse("").contains("sleep 37")));
  }

  @Test
  void aChildOfTheCommandThatKeepsTheOutputOpenIsKilledWithIt() {
    long start = System.nanoTime();
    assertThatThrownBy(() -> HostCommand.run(List.of("sh", "-c", "echo started; sleep 38 & wait"),
        Duration.ofMillis(300)))
        .isInstanceOfSatisfying(HostCommandException.class, e -> assertThat(e.getMessage())
            .startsWith("'sh -c echo started; sleep 38 & wait' did not finish within 300 ms")
            .endsWith("output so far: started"));
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
    await().atMost(Duration.ofSeconds(10)).until(() -> ProcessHandle.current().descendants()
        .noneMatch(p -> p.info().commandLine().orElse("").contains("sleep 38")));
  }

  @Test
  void aMissingProgramIsAnErrorNamingIt() {
    assertThatThrownBy(() -> HostCommand.run(List.of("trellis-no-such-program", "-x"), Duration.ofSeconds(5)))
        .isInstanceOfSatisfying(HostCommandException.class, e -> {
          assertThat(e.reason()).isEqualTo(HostCommandException.Reason.CANNOT_START);
          assertThat(e.getMessage()).startsWith("cannot run 'trellis-no-such-program -x': ")
              .endsWith("(is trellis-no-such-program installed and on the search path?)");
        });
  }
}
