package dev.trellis.cli;

import dev.trellis.proxy.host.HostCommand;
import dev.trellis.proxy.host.HostCommandException;
import dev.trellis.proxy.host.Mounts;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The I/O of {@code up --netns} and {@code down} on the host: one-shot commands ({@code ip}, {@code rmdir}, the CNI
 * plugin, the node agent's uninstall) with their output, and the few host facts they need. Commands run through
 * node-proxy's {@link HostCommand}, as the node agent's do; here a command that cannot run becomes a failed
 * {@link Result} the caller reports, not an exception.
 */
final class HostCommands {

  /** A finished command: its exit code and its output (stdout and stderr together). */
  record Result(int exit, String output) {
    boolean ok() {
      return exit == 0;
    }
  }

  private HostCommands() {}

  /**
   * Runs {@code command} with {@code stdin} (may be empty) to completion, killing it after {@code timeout}: exit 124
   * when it timed out, 127 when it could not be started, 130 when interrupted (as a shell reports them).
   */
  static Result run(List<String> command, Map<String, String> env, String stdin, Duration timeout) {
    try {
      HostCommand.Result r = HostCommand.run(command, env, stdin, timeout);
      return new Result(r.exit(), r.output());
    } catch (HostCommandException e) {
      int exit = switch (e.reason()) {
        case TIMED_OUT -> 124;
        case CANNOT_START -> 127;
        case INTERRUPTED -> 130;
      };
      return new Result(exit, e.getMessage());
    }
  }

  static Result run(List<String> command) {
    return run(command, Map.of(), "", Duration.ofSeconds(30));
  }

  /** Whether this process runs as root (effective uid 0). */
  static boolean root() {
    try {
      return Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("Uid:"))
          .map(l -> l.split("\\s+")).anyMatch(f -> f.length > 2 && f[2].equals("0"));
    } catch (IOException e) {
      return false;
    }
  }

  /** Where cgroup v2 is mounted (on a hybrid layout, e.g. /sys/fs/cgroup/unified). */
  static Optional<Path> cgroup2Mount() {
    return Mounts.fetch().cgroup2();
  }

  /** Whether the network namespace {@code name} exists (as {@code ip netns} names it). */
  static boolean netnsExists(String name) {
    return Files.exists(Path.of("/var/run/netns", name));
  }

  /** Whether the host has a network link named {@code name}. */
  static boolean linkExists(String name) {
    return Files.exists(Path.of("/sys/class/net", name));
  }
}
