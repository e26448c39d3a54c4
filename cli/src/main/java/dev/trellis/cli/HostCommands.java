package dev.trellis.cli;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The I/O of {@code up --netns} and {@code down} on the host: one-shot commands ({@code ip}, {@code rmdir}, the CNI
 * plugin, the node agent's uninstall) with their output, and the few host facts they need.
 */
final class HostCommands {

  /** A finished command: its exit code and its output (stdout and stderr together). */
  record Result(int exit, String output) {
    boolean ok() {
      return exit == 0;
    }
  }

  private HostCommands() {}

  /** Runs {@code command} with {@code stdin} (may be empty) to completion, killing it after {@code timeout}. */
  static Result run(List<String> command, Map<String, String> env, String stdin, Duration timeout) {
    Path out = null;
    try {
      out = Files.createTempFile("trellis-cmd", ".out");
      ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile());
      pb.environment().putAll(env);
      Process p = pb.start();
      try (OutputStream in = p.getOutputStream()) {
        in.write(stdin.getBytes(StandardCharsets.UTF_8));
      }
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        return new Result(124, "did not finish within " + timeout.toSeconds() + "s: " + Files.readString(out));
      }
      return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8).strip());
    } catch (IOException e) {
      return new Result(127, "cannot run " + command.getFirst() + ": " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Result(130, "interrupted");
    } finally {
      if (out != null) {
        try {
          Files.deleteIfExists(out);
        } catch (IOException ignored) {
          // a temp file left behind is harmless
        }
      }
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
    try {
      return Files.readAllLines(Path.of("/proc/mounts")).stream().map(l -> l.split(" "))
          .filter(f -> f.length > 2 && f[2].equals("cgroup2")).map(f -> Path.of(f[1])).findFirst();
    } catch (IOException e) {
      return Optional.empty();
    }
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
