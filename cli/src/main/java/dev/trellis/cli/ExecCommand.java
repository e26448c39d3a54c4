package dev.trellis.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code trellis exec WORKLOAD -- COMMAND}: runs a command as one of the workload's containers would, in its pod's
 * network namespace and cgroup, so its connections are captured like the workload's own.
 */
@Command(name = "exec", mixinStandardHelpOptions = true, description = {
    "Run a command inside a workload's pod of an 'up --netns' run (its network namespace and cgroup),",
    "e.g. trellis exec demo/client-0 -- curl -s http://10.96.61.10:8080/",
    "Its connections are captured by the mesh like the workload's own. Exits with the command's exit code."})
final class ExecCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Option(names = "--state-dir", defaultValue = ".trellis/run", description = "The run's state (default: ${DEFAULT-VALUE}).")
  Path stateDir;

  @Parameters(index = "0", paramLabel = "WORKLOAD", description = "namespace/name, or just name when it is unique")
  String workload;

  @Parameters(index = "1..*", arity = "1..*", paramLabel = "COMMAND", description = "The command and its arguments "
      + "(after --)")
  List<String> command;

  @Override
  public Integer call() throws Exception {
    Optional<RunState> state = RunState.read(stateDir);
    if (state.isEmpty()) {
      spec.commandLine().getErr().println("error: no run is up in " + stateDir.toAbsolutePath() + "; start one with "
          + "'trellis up --netns MESH_FILE'");
      return 1;
    }
    RunState.Network network = state.get().network();
    if (network == null) {
      spec.commandLine().getErr().println("error: the run in " + stateDir + " has no pods to enter (it was started "
          + "without --netns); call services through a node's entry instead (see 'trellis up' output)");
      return 1;
    }
    List<NetnsPlan.PodNet> matches = network.pods().stream().filter(p -> p.name().equals(workload)
        || (!workload.contains("/") && p.pod().equals(workload))).toList();
    if (matches.size() != 1) {
      spec.commandLine().getErr().println("error: " + (matches.isEmpty() ? "no workload '" + workload + "'"
          : "'" + workload + "' names " + matches.size() + " workloads; give namespace/name") + " (workloads: "
          + network.pods().stream().map(NetnsPlan.PodNet::name).toList() + ")");
      return 1;
    }
    NetnsPlan.PodNet pod = matches.getFirst();
    List<String> full = new ArrayList<>(LaunchPlan.inNetns(pod.netns(), Path.of(pod.cgroup()), command));
    Process p = new ProcessBuilder(full).inheritIO().start();
    return p.waitFor();
  }
}
