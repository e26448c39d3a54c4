package dev.trellis.cli;

import dev.trellis.controlplane.DurationConverter;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code trellis restart NAME}: restarts one infrastructure process of a running local mesh. A node proxy is upgraded
 * as a cluster rolls its DaemonSet with a surge pod: the new process starts beside the old one on the same ports
 * ({@code SO_REUSEPORT}); once it is ready the old one gets SIGTERM, closes its listeners (new connections all reach
 * the new process) and drains. The control plane and a node agent ({@code --node-agent}) are stopped (SIGTERM, or
 * SIGKILL with {@code --kill}: a crash) and started again with the same command line. {@link RestartPlan} decides.
 */
@Command(name = "restart", mixinStandardHelpOptions = true, description = {
    "Restart a node proxy, the control plane or a node agent of the local run.",
    "trellis restart NODE: starts a new node proxy for NODE with the same command",
    "  line beside the running one (both listen on the same ports: SO_REUSEPORT),",
    "  waits until the new one is ready (its --ready-file), then SIGTERMs the old",
    "  one, which drains, and waits for it to exit (SIGKILL after --grace). The new",
    "  process logs to NODE.N.log. If it fails to become ready, it is stopped and",
    "  the old one keeps running (exit 1). --kill is refused: SIGKILL would cut the",
    "  connections the old proxy drains.",
    "trellis restart control-plane [--kill]: stops the control plane (SIGTERM,",
    "  SIGKILL after --grace; with --kill SIGKILL at once, as a crash), waits for",
    "  it to exit, starts the same command line again (same environment and folder;",
    "  log control-plane.N.log) and waits for its /healthz/ready, as 'trellis up'",
    "  does.",
    "trellis restart NODE --node-agent [--kill]: the same for the node agent of",
    "  NODE ('trellis up --netns' runs: it runs in the node's namespace again; log",
    "  NODE.agent.N.log), ready once it logs that it is up, as 'trellis up' waits",
    "  for it. It takes its pods back from its state file.",
    "For both: if the new process is not ready within --timeout, exit 1 with its",
    "  last log lines (there is nothing to roll back to); it stays recorded, so",
    "  'trellis status' shows it and 'trellis down' stops it.",
    "Every restart records the new pid in the run state (trellis status shows it).",
    "  Workloads are not restarted."})
final class RestartCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "NAME", description = "control-plane, or a node, e.g. node-1 (its node proxy; "
      + "its node agent with --node-agent)")
  String name;

  @Option(names = "--node-agent", description = "Restart the node agent of node NAME (stop, then start) instead of "
      + "upgrading its node proxy.")
  boolean nodeAgent;

  @Option(names = "--kill", description = "Stop the control plane or node agent with SIGKILL at once (a crash, for "
      + "chaos testing) instead of SIGTERM. Refused for a node proxy.")
  boolean kill;

  @Option(names = "--state-dir", defaultValue = ".trellis/run", description = "The run's state (default: ${DEFAULT-VALUE}).")
  Path stateDir;

  @Option(names = "--timeout", defaultValue = "60s", converter = DurationConverter.class,
      description = "How long the new process may take to become ready (default: ${DEFAULT-VALUE}).")
  Duration timeout;

  @Option(names = "--grace", defaultValue = "60s", converter = DurationConverter.class,
      description = "How long the old process gets to exit after SIGTERM, then SIGKILL (default: ${DEFAULT-VALUE}).")
  Duration grace;

  /** This process's restart lock while it holds it. */
  private RestartLock held;

  @Override
  public Integer call() {
    PrintWriter err = spec.commandLine().getErr();
    Optional<RunState> found = RunState.read(stateDir);
    if (found.isEmpty()) {
      err.println("error: no run is up in " + stateDir.toAbsolutePath() + "; start one with 'trellis up <mesh file>'");
      return 3;
    }
    if (!name.matches("[A-Za-z0-9][A-Za-z0-9._-]*")) {
      err.println("error: '" + name + "' is not a process of a run: expected control-plane or a node name such as node-1");
      return 2;
    }
    Path lockFile = RestartLock.file(stateDir, name, nodeAgent);
    Optional<RestartLock> lock;
    try {
      lock = RestartLock.tryAcquire(lockFile);
    } catch (UncheckedIOException e) {
      err.println("error: " + e.getMessage());
      return 1;
    }
    if (lock.isEmpty()) {
      err.println("error: another 'trellis restart " + name + (nodeAgent ? " --node-agent" : "") + "' of this run is "
          + "still going (it holds " + lockFile.toAbsolutePath() + "); wait for it to finish, then check 'trellis "
          + "status'");
      return 2;
    }
    held = lock.get();
    try {
      // As it is now that no other restart of this process can change it.
      return restart(RunState.read(stateDir).orElse(found.get()));
    } finally {
      releaseLock();
    }
  }

  /**
   * Lets the next restart of this process begin. A node proxy upgrade lets go once its successor is ready and
   * recorded: the next upgrade may start while the old proxy still drains (it replaces the successor, not the old one).
   */
  private void releaseLock() {
    if (held != null) {
      held.close();
      held = null;
    }
  }

  private int restart(RunState state) {
    PrintWriter err = spec.commandLine().getErr();
    return switch (RestartPlan.decide(state, name, nodeAgent, kill, stateDir)) {
      case RestartPlan.Refused r -> {
        err.println("error: " + r.message());
        yield 2;
      }
      case RestartPlan.Surge s -> surge(state, s.old(), s.next());
      case RestartPlan.Replace r -> replace(r);
    };
  }

  /** Stop, then start: the control plane or a node agent. */
  private int replace(RestartPlan.Replace plan) {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    LaunchPlan.Launch launch = plan.next();
    String what = RestartPlan.describe(plan.old());
    Clock clock = Clock.systemUTC();
    LocalProcesses processes = new LocalProcesses(clock);
    Optional<ProcessHandle> old = LocalProcesses.find(plan.old());
    out.println("Restarting the " + what + (old.map(p -> " (pid " + p.pid() + ")").orElse(" (not running)")) + ": "
        + (plan.kill() ? "SIGKILL" : "SIGTERM") + ", then the same command line again.");
    out.flush();
    if (old.isPresent()) {
      Instant stopping = clock.instant();
      if (plan.kill()) {
        processes.kill(List.of(old.get()));
      } else {
        processes.stop(List.of(old.get()), grace);
      }
      Duration took = Duration.between(stopping, clock.instant());
      if (old.get().isAlive()) {
        err.println("error: the old " + what + " (pid " + old.get().pid() + ") would not exit, even with SIGKILL; "
            + "nothing was started");
        return 1;
      }
      out.printf("  old  pid %-8d %s after %s (log %s)%n", old.get().pid(), plan.kill() ? "killed (SIGKILL)"
          : took.compareTo(grace) < 0 ? "exited on SIGTERM" : "killed (SIGKILL: it had not exited within --grace "
          + grace.toSeconds() + "s)", seconds(took), plan.old().log());
    } else {
      out.printf("  old  pid %-8d was not running%n", plan.old().pid());
    }
    out.flush();
    Instant started = clock.instant();
    ProcessHandle next;
    try {
      next = processes.start(launch);
    } catch (UncheckedIOException e) {
      err.println("error: " + e.getMessage());
      return 1;
    }
    // Recorded before it is ready: whatever happens next, 'trellis status' shows it and 'trellis down' stops it.
    RunState.Entry replacement = new RunState.Entry(plan.old().name(), plan.old().role(), next.pid(),
        launch.log().toString(), plan.old().address(), plan.old().ports(), plan.old().admin(),
        LocalProcesses.startOf(next), plan.old().relaunch());
    RunState.update(stateDir, now -> now.replacing(replacement));
    Optional<String> failure = processes.awaitReady(launch, next, timeout);
    if (failure.isPresent()) {
      err.println("error: " + failure.get() + ". Last lines of " + launch.log() + ":");
      LocalProcesses.tail(launch.log(), 20).forEach(l -> err.println("  | " + l));
      err.println("There is no old process to go back to; the new one (pid " + next.pid() + ") is recorded in the "
          + "run state: 'trellis status' shows whether it runs, 'trellis down' stops the run.");
      return 1;
    }
    out.printf("  new  pid %-8d ready after %s (log %s)%n", next.pid(), seconds(Duration.between(started,
        clock.instant())), launch.log());
    out.println(Character.toUpperCase(what.charAt(0)) + what.substring(1) + " now runs as pid " + next.pid()
        + " (trellis status" + stateDirOption() + ").");
    return 0;
  }

  /** A node proxy: its successor beside it, then SIGTERM to the old one. */
  private int surge(RunState state, RunState.Entry entry, LaunchPlan.Launch launch) {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    String node = entry.name();
    Clock clock = Clock.systemUTC();
    LocalProcesses processes = new LocalProcesses(clock);
    Optional<ProcessHandle> old = LocalProcesses.find(entry);
    out.println("Restarting node proxy " + node + (old.map(p -> " (pid " + p.pid() + ")").orElse(" (not running)"))
        + ": a new process beside it on the same ports, then SIGTERM to the old one.");
    migrationNote(state).ifPresent(out::println);
    out.flush();
    deleteReadyFile(launch);
    Instant started = clock.instant();
    ProcessHandle next;
    try {
      next = processes.start(launch);
    } catch (UncheckedIOException e) {
      err.println("error: " + e.getMessage());
      return 1;
    }
    Optional<String> failure = processes.awaitReady(launch, next, timeout);
    if (failure.isPresent()) {
      err.println("error: " + failure.get() + ". Last lines of " + launch.log() + ":");
      LocalProcesses.tail(launch.log(), 20).forEach(l -> err.println("  | " + l));
      processes.stop(List.of(next), Duration.ofSeconds(10));
      err.println(old.isPresent() ? "The new process is stopped; the old one (pid " + old.get().pid() + ") keeps "
          + "serving." : "The new process is stopped.");
      return 1;
    }
    out.printf("  new  pid %-8d ready after %s (log %s)%n", next.pid(), seconds(Duration.between(started,
        clock.instant())), launch.log());
    out.flush();
    RunState.Entry replacement = new RunState.Entry(node, RunState.Role.NODE_PROXY, next.pid(), launch.log().toString(),
        entry.address(), entry.ports(), entry.admin(), LocalProcesses.startOf(next),
        new RunState.Relaunch(launch.command(), launch.env(), launch.workDir().toString()));
    RunState.update(stateDir, now -> now.replacing(replacement));
    releaseLock();
    if (old.isPresent()) {
      Instant stopping = clock.instant();
      processes.stop(List.of(old.get()), grace);
      Duration took = Duration.between(stopping, clock.instant());
      if (old.get().isAlive()) {
        err.println("error: the old node proxy (pid " + old.get().pid() + ") would not exit, even with SIGKILL; the "
            + "new one (pid " + next.pid() + ") serves beside it");
        return 1;
      }
      out.printf("  old  pid %-8d %s after %s (log %s)%n", old.get().pid(), took.compareTo(grace) < 0
          ? "exited on SIGTERM" : "killed (SIGKILL: it had not exited within --grace " + grace.toSeconds() + "s)",
          seconds(took), entry.log());
    }
    out.println("Node proxy " + node + " now runs as pid " + next.pid() + " (trellis status" + stateDirOption() + ").");
    return 0;
  }

  private String stateDirOption() {
    return stateDir.equals(Path.of(".trellis/run")) ? "" : " --state-dir " + stateDir;
  }

  /**
   * In a loopback run: a note when the kernel resets, rather than moves, connections queued on the old process's
   * listeners as it closes them ({@code net.ipv4.tcp_migrate_req} is 0). Nothing for namespace runs (their own value).
   */
  static Optional<String> migrationNote(RunState state) {
    Path sysctl = Path.of("/proc/sys/net/ipv4/tcp_migrate_req");
    if (state.network() != null || !Files.isReadable(sysctl)) {
      return Optional.empty();
    }
    try {
      return Files.readString(sysctl).strip().equals("0") ? Optional.of("  note: net.ipv4.tcp_migrate_req is 0: a "
          + "connection queued on the old process's listeners as it closes them is reset; 'sysctl -w "
          + "net.ipv4.tcp_migrate_req=1' (as root) moves it to the new one (docs/node-proxy-operations.md, Upgrade)")
          : Optional.empty();
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  private static void deleteReadyFile(LaunchPlan.Launch launch) {
    RestartPlan.readyFile(launch).ifPresent(f -> {
      try {
        Files.deleteIfExists(f);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot remove the stale ready file " + f + ": " + e.getMessage(), e);
      }
    });
  }

  private static String seconds(Duration d) {
    return String.format(Locale.ROOT, "%.1fs", d.toMillis() / 1000.0);
  }
}
