package dev.trellis.cli.local;

import dev.trellis.controlplane.config.YamlValue;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/** Parses a workload's {@code run:} field into a {@link WorkloadRun}, reporting each problem at its field. */
final class RunSection {

  static final Set<String> FIELDS = Set.of("demo", "command", "env", "failRate", "latency");
  private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");

  private RunSection() {}

  /** The run, or null (after reporting) when it is invalid. */
  static WorkloadRun parse(YamlValue run) {
    Map<String, YamlValue> f = run.fields(FIELDS);
    if (f.containsKey("demo") == f.containsKey("command")) {
      run.problem("give exactly one of 'demo' (a shipped demo service: http or grpc) or 'command' (a program and its "
          + "arguments, e.g. [python3, -m, http.server, '8080'])");
      return null;
    }
    Map<String, String> env = f.containsKey("env") ? env(f.get("env")) : Map.of();
    if (f.containsKey("command")) {
      for (String option : List.of("failRate", "latency")) {
        if (f.containsKey(option)) {
          f.get(option).problem("only for demo services (run: {demo: http, " + option + ": ...}); a command "
              + "behaves as it is written");
          return null;
        }
      }
      List<String> command = f.get("command").strings();
      if (command.isEmpty()) {
        f.get("command").problem("must name a program (expected: a list such as [python3, -m, http.server, '8080'])");
        return null;
      }
      return env == null ? null : new WorkloadRun.Command(command, env);
    }
    WorkloadRun.Demo.Kind kind = f.get("demo").enumValue(WorkloadRun.Demo.Kind.class);
    Double failRate = f.containsKey("failRate") ? f.get("failRate").decimal(0, 1) : Double.valueOf(0);
    Duration latency = f.containsKey("latency") ? f.get("latency").duration() : Duration.ZERO;
    if (kind == null || failRate == null || latency == null || env == null) {
      return null;
    }
    return new WorkloadRun.Demo(kind, failRate, latency, env);
  }

  private static Map<String, String> env(YamlValue value) {
    Map<String, String> env = value.stringMap();
    for (String name : env.keySet()) {
      if (!ENV_NAME.matcher(name).matches()) {
        value.problem("'" + name + "' is not an environment variable name (expected: letters, digits and _, not "
            + "starting with a digit)");
        return null;
      }
      if (name.startsWith("TRELLIS_WORKLOAD_")) {
        value.problem("'" + name + "' is set by trellis up from the workload itself; remove it");
        return null;
      }
    }
    return env;
  }
}
