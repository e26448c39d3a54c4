package dev.trellis.cli;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonParser;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code trellis config-dump NODE}: what one node proxy of the local run holds. */
@Command(name = "config-dump", mixinStandardHelpOptions = true, description = {
    "Print what a node proxy of the local run holds.",
    "Its /config_dump (workloads, identities and their certificates, services, endpoints) as indented JSON;",
    "NODE as named in the mesh file."})
final class ConfigDumpCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "NODE", description = "A node of the running mesh, e.g. node-1")
  String node;

  @Option(names = "--state-dir", defaultValue = ".trellis/run", description = "The run's state (default: ${DEFAULT-VALUE}).")
  Path stateDir;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Optional<RunState> state = RunState.read(stateDir);
    if (state.isEmpty()) {
      err.println("error: no run is up in " + stateDir.toAbsolutePath() + "; start one with 'trellis up <mesh file>'");
      return 3;
    }
    Optional<RunState.Entry> proxy = find(state.get(), node);
    if (proxy.isEmpty()) {
      err.println("error: " + unknownNode(state.get(), node));
      return 2;
    }
    String url = LaunchPlan.proxyDebugAdmin(state.get(), proxy.get()) + "/config_dump";
    Optional<String> dump = new LocalProcesses(Clock.systemUTC()).fetch(url);
    if (dump.isEmpty()) {
      err.println("error: node proxy " + node + " did not answer at " + url + "; is it "
          + "alive ('trellis status')? Its log: " + proxy.get().log());
      return 1;
    }
    out.println(new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create()
        .toJson(JsonParser.parseString(dump.get())));
    return 0;
  }

  static Optional<RunState.Entry> find(RunState state, String node) {
    return state.find(RunState.Role.NODE_PROXY, node);
  }

  static String unknownNode(RunState state, String node) {
    return "no node named '" + node + "' in the run of " + state.meshFile() + " (known nodes: "
        + state.all(RunState.Role.NODE_PROXY).stream().map(RunState.Entry::name).toList() + ")";
  }
}
