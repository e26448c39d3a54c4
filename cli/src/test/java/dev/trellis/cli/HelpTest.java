package dev.trellis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import picocli.CommandLine;

/** {@code --help} answers on every command of {@code trellis}, as README tells users to run it. */
class HelpTest {

  /** Every command path below {@code trellis}, e.g. {@code [ca, rotate]}, found from the command tree itself. */
  static Stream<List<String>> commands() {
    List<List<String>> out = new ArrayList<>();
    out.add(List.of());
    collect(new CommandLine(TrellisCli.class), List.of(), out);
    return out.stream();
  }

  private static void collect(CommandLine command, List<String> path, List<List<String>> out) {
    command.getSubcommands().forEach((name, sub) -> {
      List<String> p = new ArrayList<>(path);
      p.add(name);
      out.add(p);
      collect(sub, p, out);
    });
  }

  @ParameterizedTest(name = "trellis {0} --help")
  @MethodSource("commands")
  void helpPrintsTheUsageAndExitsZero(List<String> path) {
    List<String> args = new ArrayList<>(path);
    args.add("--help");
    CliRun r = CliRun.run(args.toArray(String[]::new));
    assertThat(r.exit()).as(r.err()).isZero();
    assertThat(r.out()).startsWith("Usage: " + String.join(" ", prepend("trellis", path)) + " ")
        .contains("-h, --help");
    assertThat(r.err()).isEmpty();
  }

  @Test
  void theTreeIncludesEveryTopLevelCommandAndTheNestedOnes() {
    assertThat(commands().map(p -> String.join(" ", p))).contains("control-plane", "up", "down", "status", "exec",
        "config-dump", "check", "install", "uninstall", "demo", "ca", "ca show", "ca issue", "ca rotate");
  }

  private static List<String> prepend(String first, List<String> rest) {
    List<String> out = new ArrayList<>();
    out.add(first);
    out.addAll(rest);
    return out;
  }
}
