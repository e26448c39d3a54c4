package dev.trellis.cli;

import dev.trellis.controlplane.DurationConverter;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.TypeConversionException;

/** {@code trellis down}: stops what {@code trellis up} started. Running it with nothing up is fine. */
@Command(name = "down", mixinStandardHelpOptions = true, description = {
    "Stop the local run started by 'trellis up'.",
    "SIGTERM to every process, SIGKILL after --grace; removes the run state (logs",
    "  stay in --state-dir). The default grace covers a node proxy's drain: the",
    "  longest --drain-timeout of the run's node proxies (20s unless their recorded",
    "  command line sets another) plus 10s, so 30s by default; processes that exit",
    "  sooner end the wait sooner.",
    "After an 'up --netns' run it also removes the namespaces, links, cgroups and",
    "  redirection, and checks that none is left.",
    "With no run up, says so and exits 0."})
final class DownCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Option(names = "--state-dir", defaultValue = ".trellis/run", description = "The run's state (default: ${DEFAULT-VALUE}).")
  Path stateDir;

  /** A node proxy's {@code --drain-timeout} when its command line sets none (NodeProxyMain's default). */
  static final Duration DRAIN_TIMEOUT = Duration.ofSeconds(20);
  /** What the default grace adds to the longest drain: the proxy's own shutdown after its drain. */
  static final Duration AFTER_DRAIN = Duration.ofSeconds(10);

  @Option(names = "--grace", converter = DurationConverter.class, description = "How long processes get to exit after "
      + "SIGTERM, then SIGKILL (default: the longest --drain-timeout of the run's node proxies, 20s unless set, plus "
      + "10s: a draining proxy is not cut).")
  Duration grace;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    Optional<RunState> state = RunState.read(stateDir);
    if (state.isEmpty()) {
      out.println("No run is up in " + stateDir.toAbsolutePath() + "; nothing to stop.");
      return 0;
    }
    // Workloads first, the control plane last: proxies do not see their control plane vanish first.
    List<RunState.Entry> entries = new ArrayList<>(state.get().processes());
    Collections.reverse(entries);
    List<ProcessHandle> alive = new ArrayList<>();
    for (RunState.Entry e : entries) {
      Optional<ProcessHandle> p = LocalProcesses.find(e);
      p.ifPresent(alive::add);
      out.printf("  %-28s %-13s pid %-8d %s%n", e.name(), e.role().name().toLowerCase(Locale.ROOT)
          .replace('_', '-'), e.pid(), p.isPresent() ? "stopping" : "already gone");
    }
    out.flush();
    new LocalProcesses(Clock.systemUTC()).stop(alive, grace != null ? grace : defaultGrace(state.get()));
    List<ProcessHandle> left = alive.stream().filter(ProcessHandle::isAlive).toList();
    if (!left.isEmpty()) {
      spec.commandLine().getErr().println("error: " + left.size() + " process(es) would not stop, even with SIGKILL: "
          + left.stream().map(p -> String.valueOf(p.pid())).toList() + "; the run state stays in " + stateDir);
      return 1;
    }
    RunState.Network network = state.get().network();
    if (network != null) {
      List<String> remaining = NetnsUp.teardown(network, spec.commandLine().getErr());
      if (!remaining.isEmpty()) {
        spec.commandLine().getErr().println("error: the run's network is not all gone; still there:");
        remaining.forEach(l -> spec.commandLine().getErr().println("  " + l));
        spec.commandLine().getErr().println("The run state stays in " + stateDir + ": 'trellis down' tries again.");
        return 1;
      }
      out.println("Removed " + (network.nodes().size() + network.pods().size() + 1) + " network namespaces, link "
          + NetnsPlan.HOST_LINK + ", the pods' cgroups and all redirection.");
    }
    RunState.delete(stateDir);
    deleteTokens(state.get());
    out.println("Stopped " + alive.size() + " process(es) of the mesh " + state.get().meshFile() + "; logs stay in "
        + stateDir.toAbsolutePath() + ".");
    return 0;
  }

  /**
   * How long {@code down} waits after SIGTERM when {@code --grace} is not given: the longest {@code --drain-timeout}
   * on the recorded command lines of the run's node proxies ({@link #DRAIN_TIMEOUT} where none is set or recorded)
   * plus {@link #AFTER_DRAIN}, so that SIGKILL never cuts a drain.
   */
  static Duration defaultGrace(RunState state) {
    Duration longest = DRAIN_TIMEOUT;
    for (RunState.Entry proxy : state.all(RunState.Role.NODE_PROXY)) {
      Duration drain = proxy.relaunch() == null ? DRAIN_TIMEOUT : drainTimeout(proxy.relaunch().command());
      longest = drain.compareTo(longest) > 0 ? drain : longest;
    }
    return longest.plus(AFTER_DRAIN);
  }

  /** The last {@code --drain-timeout} of a node proxy's command line, or {@link #DRAIN_TIMEOUT}. */
  static Duration drainTimeout(List<String> command) {
    String value = null;
    for (int i = 0; i < command.size(); i++) {
      String arg = command.get(i);
      if (arg.equals("--drain-timeout") && i + 1 < command.size()) {
        value = command.get(++i);
      } else if (arg.startsWith("--drain-timeout=")) {
        value = arg.substring("--drain-timeout=".length());
      }
    }
    if (value == null) {
      return DRAIN_TIMEOUT;
    }
    try {
      return new DurationConverter().convert(value);
    } catch (TypeConversionException e) {
      return DRAIN_TIMEOUT; // the proxy would not have started with it; the default is as good a guess as any
    }
  }

  /** The node tokens {@code up} wrote for the proxies: secrets do not outlive the run. */
  private void deleteTokens(RunState state) {
    for (RunState.Entry proxy : state.all(RunState.Role.NODE_PROXY)) {
      try {
        Files.deleteIfExists(stateDir.resolve(proxy.name() + ".token"));
      } catch (IOException e) {
        spec.commandLine().getErr().println("warning: cannot remove " + stateDir.resolve(proxy.name() + ".token")
            + ": " + e.getMessage());
      }
    }
  }
}
