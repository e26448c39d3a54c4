package dev.trellis.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Decides what {@code trellis restart NAME} does. For a node proxy: a successor beside the old process (surge), with
 * the command line {@code up} recorded, a {@code --ready-file} of its own (both processes share every port while they
 * overlap, so a probe of {@code /healthz/ready} may reach the old one), and a log of its own (the old process still
 * writes to its log while it drains). For the control plane and a node agent: stop the old process (SIGTERM, or
 * SIGKILL with {@code --kill}), then start the recorded command line again with a log of its own (so a probe of the
 * log never matches the old process's lines) and the readiness probe {@code up} used. No I/O here;
 * {@link RestartCommand} does the stopping and starting.
 */
final class RestartPlan {

  /** The name {@code trellis restart} takes for the control plane. */
  static final String CONTROL_PLANE = "control-plane";

  /** What to do. */
  sealed interface Decision permits Surge, Replace, Refused {}

  /** A node proxy: start {@code next} beside {@code old}, once it is ready SIGTERM {@code old} (it drains). */
  record Surge(RunState.Entry old, LaunchPlan.Launch next) implements Decision {}

  /**
   * The control plane or a node agent: stop {@code old} (SIGKILL at once when {@code kill}, else SIGTERM and SIGKILL
   * after the grace), wait for it to exit, then start {@code next} and wait for its readiness.
   */
  record Replace(RunState.Entry old, LaunchPlan.Launch next, boolean kill) implements Decision {}

  /** Nothing to do: {@code message} says why and what to type instead. */
  record Refused(String message) implements Decision {}

  /**
   * What {@code trellis restart name [--node-agent] [--kill]} does in the run {@code state}.
   *
   * @param name {@code control-plane} or a node name
   */
  static Decision decide(RunState state, String name, boolean nodeAgent, boolean kill, Path stateDir) {
    if (name.equals(CONTROL_PLANE)) {
      if (nodeAgent) {
        return new Refused("--node-agent names the node agent of a node, and control-plane is no node: 'trellis "
            + "restart control-plane' restarts the control plane, 'trellis restart NODE --node-agent' a node agent");
      }
      return state.find(RunState.Role.CONTROL_PLANE, CONTROL_PLANE).<Decision>map(e -> replace(e, kill, stateDir))
          .orElseGet(() -> new Refused("the run has no control plane to restart" + names(state)));
    }
    boolean node = state.find(RunState.Role.NODE_PROXY, name).isPresent()
        || state.find(RunState.Role.NODE_AGENT, name).isPresent();
    if (!node) {
      boolean workload = state.find(RunState.Role.WORKLOAD, name).isPresent();
      return new Refused((workload ? name + " is a workload: 'trellis restart' restarts the mesh's own processes, not "
          + "workloads ('trellis down' and 'trellis up' restart everything)" : "the run has no process '" + name + "'")
          + names(state));
    }
    if (nodeAgent) {
      return state.find(RunState.Role.NODE_AGENT, name).<Decision>map(e -> replace(e, kill, stateDir))
          .orElseGet(() -> new Refused("node " + name + " has no node agent in this run: node agents run only in "
              + "'trellis up --netns' runs (a loopback run captures nothing); leave out --node-agent to upgrade its "
              + "node proxy"));
    }
    if (kill) {
      return new Refused("--kill is refused for a node proxy: SIGKILL would cut every connection the proxy would "
          + "otherwise drain; 'trellis restart " + name + "' starts a successor beside it and SIGTERMs the old one "
          + "once the successor is ready (its connections drain until --drain-timeout). --kill is for "
          + "'trellis restart control-plane' and 'trellis restart NODE --node-agent'");
    }
    RunState.Entry proxy = state.find(RunState.Role.NODE_PROXY, name).orElseThrow();
    try {
      return new Surge(proxy, successor(proxy, stateDir));
    } catch (IllegalArgumentException e) {
      return new Refused(e.getMessage());
    }
  }

  /** The names {@code trellis restart} takes in {@code state}, as the end of an error message. */
  private static String names(RunState state) {
    List<String> names = new ArrayList<>();
    if (state.find(RunState.Role.CONTROL_PLANE, CONTROL_PLANE).isPresent()) {
      names.add(CONTROL_PLANE);
    }
    state.processes().stream().filter(e -> e.role() == RunState.Role.NODE_PROXY || e.role() == RunState.Role.NODE_AGENT)
        .map(RunState.Entry::name).distinct().forEach(names::add);
    return "; valid names: " + String.join(", ", names) + " (trellis status lists the run's processes)";
  }

  private static Decision replace(RunState.Entry old, boolean kill, Path stateDir) {
    if (old.relaunch() == null) {
      return new Refused("the run state has no command line for the " + describe(old) + " (the run was started by "
          + "an older 'trellis up'): restart the whole run with 'trellis down' and 'trellis up'");
    }
    return new Replace(old, relaunch(old, stateDir), kill);
  }

  /**
   * The launch that starts {@code entry}'s process again: its recorded command line, environment and folder, with
   * the log of the next generation ({@code control-plane.2.log}, {@code node-1.agent.2.log}, ...) and the readiness
   * probe {@code up} used: the control plane's {@code /healthz/ready}, the node agent's "up" line in its (new) log.
   */
  static LaunchPlan.Launch relaunch(RunState.Entry entry, Path stateDir) {
    String base = logBase(entry);
    int next = generation(base, Path.of(entry.log()).getFileName().toString()) + 1;
    List<String> ready = switch (entry.role()) {
      case CONTROL_PLANE -> List.of(entry.admin() + "/healthz/ready");
      case NODE_AGENT -> List.of(LaunchPlan.LOG_PROBE + LaunchPlan.AGENT_UP);
      case NODE_PROXY, WORKLOAD -> throw new IllegalArgumentException(entry.name() + " is a " + entry.role()
          + ": only the control plane and node agents are stopped and started again");
    };
    return new LaunchPlan.Launch(entry.name(), entry.role(), entry.relaunch().command(), entry.relaunch().env(),
        Path.of(entry.relaunch().workDir()), stateDir.resolve(base + "." + next + ".log").toAbsolutePath(),
        entry.address(), entry.ports(), entry.admin(), ready, null, null);
  }

  /** What the entry's first log is called, without {@code .log}. */
  private static String logBase(RunState.Entry entry) {
    return switch (entry.role()) {
      case NODE_AGENT -> entry.name() + ".agent";
      default -> entry.name();
    };
  }

  /** How messages name the entry's process. */
  static String describe(RunState.Entry entry) {
    return switch (entry.role()) {
      case CONTROL_PLANE -> "control plane";
      case NODE_AGENT -> "node agent of " + entry.name();
      case NODE_PROXY -> "node proxy " + entry.name();
      case WORKLOAD -> "workload " + entry.name();
    };
  }

  /** The successor binds its traffic ports only once ready: before that it could not serve what they would get. */
  static final String LISTEN_AFTER_READY = "--listen-after-ready";

  private RestartPlan() {}

  /**
   * The successor's launch: generation {@code n + 1} of a proxy whose log is {@code NAME.log} (generation 1) or
   * {@code NAME.n.log}; its log {@code NAME.(n+1).log} and its ready file {@code NAME.(n+1).ready} in {@code stateDir}.
   *
   * @throws IllegalArgumentException when the entry is not a node proxy or its command line was not recorded
   */
  static LaunchPlan.Launch successor(RunState.Entry proxy, Path stateDir) {
    if (proxy.role() != RunState.Role.NODE_PROXY) {
      throw new IllegalArgumentException(proxy.name() + " is a " + proxy.role() + ", not a node proxy: 'trellis "
          + "restart' restarts node proxies (trellis status lists them)");
    }
    if (proxy.relaunch() == null) {
      throw new IllegalArgumentException("the run state has no command line for " + proxy.name() + " (the run was "
          + "started by an older 'trellis up'): restart the whole run with 'trellis down' and 'trellis up'");
    }
    int next = generation(proxy.name(), Path.of(proxy.log()).getFileName().toString()) + 1;
    Path readyFile = stateDir.resolve(proxy.name() + "." + next + ".ready").toAbsolutePath();
    List<String> command = withReadyFile(proxy.relaunch().command(), readyFile);
    return new LaunchPlan.Launch(proxy.name(), proxy.role(), command, proxy.relaunch().env(),
        Path.of(proxy.relaunch().workDir()), stateDir.resolve(proxy.name() + "." + next + ".log").toAbsolutePath(),
        proxy.address(), proxy.ports(), proxy.admin(), List.of(LaunchPlan.FILE_PROBE + readyFile), null, null);
  }

  /** The ready file a successor's launch waits for. */
  static Optional<Path> readyFile(LaunchPlan.Launch launch) {
    return launch.ready().stream().filter(p -> p.startsWith(LaunchPlan.FILE_PROBE)).findFirst()
        .map(p -> Path.of(p.substring(LaunchPlan.FILE_PROBE.length())));
  }

  /** 1 for {@code NAME.log}, n for {@code NAME.n.log}; 1 for anything else. */
  static int generation(String name, String logFileName) {
    String prefix = name + ".";
    if (logFileName.startsWith(prefix) && logFileName.endsWith(".log")
        && logFileName.length() > prefix.length() + ".log".length()) {
      String middle = logFileName.substring(prefix.length(), logFileName.length() - ".log".length());
      if (!middle.isEmpty() && middle.length() < 9 && middle.chars().allMatch(Character::isDigit)) {
        return Integer.parseInt(middle);
      }
    }
    return 1;
  }

  /**
   * {@code command} with every {@code --ready-file X} it had replaced by one naming {@code file}, at its end, and
   * {@code --listen-after-ready 60s} unless it has that flag.
   */
  static List<String> withReadyFile(List<String> command, Path file) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < command.size(); i++) {
      String arg = command.get(i);
      if (arg.equals("--ready-file")) {
        i++; // and its value
      } else if (!arg.startsWith("--ready-file=")) {
        out.add(arg);
      }
    }
    out.addAll(List.of("--ready-file", file.toString()));
    if (!out.contains(LISTEN_AFTER_READY)) {
      out.addAll(List.of(LISTEN_AFTER_READY, "60s"));
    }
    return out;
  }
}
