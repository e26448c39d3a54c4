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
 * {@code trellis restart NODE}: upgrades one node proxy of a running local mesh as a cluster rolls its DaemonSet with a
 * surge pod. The new process starts beside the old one on the same ports ({@code SO_REUSEPORT}); once it is ready
 * the old one gets SIGTERM, closes its listeners (new connections all reach the new process) and exits.
 */
@Command(name = "restart", mixinStandardHelpOptions = true, description = {
    "Upgrade one node proxy of the local run without refusing a connection.",
    "Starts a new node proxy for NODE with the same command line beside the running one (both listen on the same",
    "ports: SO_REUSEPORT), waits until the new one is ready (its --ready-file), then SIGTERMs the old one, waits",
    "for it to exit (SIGKILL after --grace) and records the new pid in the run state (trellis status shows it).",
    "The new process logs to NODE.N.log in --state-dir. If the new one fails to become ready, it is stopped and",
    "the old one keeps running (exit 1)."})
final class RestartCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "NODE", description = "The node whose proxy to restart, e.g. node-1")
  String node;

  @Option(names = "--state-dir", defaultValue = ".trellis/run", description = "The run's state (default: ${DEFAULT-VALUE}).")
  Path stateDir;

  @Option(names = "--timeout", defaultValue = "60s", converter = DurationConverter.class,
      description = "How long the new node proxy may take to become ready (default: ${DEFAULT-VALUE}).")
  Duration timeout;

  @Option(names = "--grace", defaultValue = "60s", converter = DurationConverter.class,
      description = "How long the old node proxy gets to exit after SIGTERM, then SIGKILL (default: ${DEFAULT-VALUE}).")
  Duration grace;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Optional<RunState> found = RunState.read(stateDir);
    if (found.isEmpty()) {
      err.println("error: no run is up in " + stateDir.toAbsolutePath() + "; start one with 'trellis up <mesh file>'");
      return 3;
    }
    RunState state = found.get();
    Optional<RunState.Entry> entry = state.find(RunState.Role.NODE_PROXY, node);
    if (entry.isEmpty()) {
      err.println("error: the run has no node proxy '" + node + "'; its node proxies: "
          + state.all(RunState.Role.NODE_PROXY).stream().map(RunState.Entry::name).toList());
      return 2;
    }
    LaunchPlan.Launch launch;
    try {
      launch = RestartPlan.successor(entry.get(), stateDir);
    } catch (IllegalArgumentException e) {
      err.println("error: " + e.getMessage());
      return 2;
    }
    Clock clock = Clock.systemUTC();
    LocalProcesses processes = new LocalProcesses(clock);
    Optional<ProcessHandle> old = LocalProcesses.find(entry.get());
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
        entry.get().address(), entry.get().ports(), entry.get().admin(), LocalProcesses.startOf(next),
        new RunState.Relaunch(launch.command(), launch.env(), launch.workDir().toString()));
    state.replacing(replacement).write(stateDir);
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
          seconds(took), entry.get().log());
    }
    out.println("Node proxy " + node + " now runs as pid " + next.pid() + " (trellis status"
        + (stateDir.equals(Path.of(".trellis/run")) ? "" : " --state-dir " + stateDir) + ").");
    return 0;
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
