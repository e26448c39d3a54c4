package dev.trellis.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code trellis status}: the local run at a glance. */
@Command(name = "status", mixinStandardHelpOptions = true, description = {
    "Show the local run started by 'trellis up'.",
    "Each process (alive or dead, pid, log), the control plane's xDS clients with their ACKed versions,",
    "and the certificate of each workload identity on each node proxy. Exit 1 if a process died."})
final class StatusCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Option(names = "--state-dir", defaultValue = ".trellis/run", description = "The run's state (default: ${DEFAULT-VALUE}).")
  Path stateDir;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    Optional<RunState> found = RunState.read(stateDir);
    if (found.isEmpty()) {
      out.println("No run is up in " + stateDir.toAbsolutePath() + "; start one with 'trellis up <mesh file>'.");
      return 3;
    }
    RunState state = found.get();
    LocalProcesses processes = new LocalProcesses(Clock.systemUTC());
    Optional<String> clients = state.all(RunState.Role.CONTROL_PLANE).stream().findFirst()
        .flatMap(cp -> processes.fetch(cp.admin() + "/debug/clients"));
    Map<String, String> dumps = new LinkedHashMap<>();
    for (RunState.Entry proxy : state.all(RunState.Role.NODE_PROXY)) {
      processes.fetch(LaunchPlan.proxyDebugAdmin(state, proxy) + "/config_dump").ifPresent(d -> dumps.put(proxy.name(), d));
    }
    StatusView.render(state, e -> LocalProcesses.find(e).isPresent(), clients, dumps).forEach(out::println);
    boolean allAlive = state.processes().stream().allMatch(e -> LocalProcesses.find(e).isPresent());
    return allAlive ? 0 : 1;
  }
}
