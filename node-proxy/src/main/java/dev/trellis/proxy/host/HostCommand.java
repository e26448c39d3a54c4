package dev.trellis.proxy.host;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs a program of the host ({@code nft}, {@code ip}, {@code mount}, the CNI plugin, ...) to completion, with a
 * timeout that fires whatever the program does: its output (stdout and stderr together) goes to a file and its
 * input comes from one, so no pipe can hold the caller — a hung program, or a child of it, that keeps its output
 * open cannot make the wait outlast the timeout. On timeout the program and its descendants are killed. Used by the
 * node agent's redirection and by the {@code trellis} CLI.
 */
public final class HostCommand {

  /** A finished command: its exit status and its output (stdout and stderr together, stripped). */
  public record Result(int exit, String output) {
    public boolean ok() {
      return exit == 0;
    }
  }

  private static final Duration KILL_WAIT = Duration.ofSeconds(5);

  private HostCommand() {}

  /**
   * Runs {@code command} with {@code env} added to this process's environment and {@code stdin} (may be empty) as
   * its input; waits at most {@code timeout}.
   *
   * @throws HostCommandException when it cannot be started, does not finish within {@code timeout} (it is killed),
   *     or the waiting thread is interrupted; the message names the command
   */
  public static Result run(List<String> command, Map<String, String> env, String stdin, Duration timeout)
      throws HostCommandException {
    String name = String.join(" ", command);
    List<Path> files = new ArrayList<>();
    try {
      Path out = temp(files, "out");
      ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile());
      if (!stdin.isEmpty()) {
        Path in = temp(files, "in");
        Files.writeString(in, stdin, StandardCharsets.UTF_8);
        pb.redirectInput(in.toFile());
      }
      pb.environment().putAll(env);
      Process p;
      try {
        p = pb.start();
      } catch (IOException e) {
        throw new HostCommandException(HostCommandException.Reason.CANNOT_START, "cannot run '" + name + "': "
            + e.getMessage() + " (is " + command.getFirst() + " installed and on the search path?)", e);
      }
      if (stdin.isEmpty()) {
        p.getOutputStream().close(); // end of input at once
      }
      try {
        if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
          kill(p);
          throw new HostCommandException(HostCommandException.Reason.TIMED_OUT, "'" + name + "' did not finish within "
              + millis(timeout) + " and was killed; output so far: " + read(out), null);
        }
      } catch (InterruptedException e) {
        kill(p);
        Thread.currentThread().interrupt();
        throw new HostCommandException(HostCommandException.Reason.INTERRUPTED, "interrupted while running '" + name
            + "'; it was killed", e);
      }
      return new Result(p.exitValue(), read(out));
    } catch (HostCommandException e) {
      throw e;
    } catch (IOException e) {
      throw new HostCommandException(HostCommandException.Reason.CANNOT_START, "cannot run '" + name + "': its input "
          + "or output file in " + System.getProperty("java.io.tmpdir") + " failed: " + e.getMessage(), e);
    } finally {
      for (Path f : files) {
        try {
          Files.deleteIfExists(f);
        } catch (IOException ignored) {
          // a temporary file left behind is harmless
        }
      }
    }
  }

  /** {@link #run(List, Map, String, Duration)} without extra environment or input. */
  public static Result run(List<String> command, Duration timeout) throws HostCommandException {
    return run(command, Map.of(), "", timeout);
  }

  private static Path temp(List<Path> files, String suffix) throws IOException {
    Path f = Files.createTempFile("trellis-cmd", "." + suffix);
    files.add(f);
    return f;
  }

  /** Kills the program and whatever it started, and waits a little for it to go. */
  private static void kill(Process p) {
    p.descendants().forEach(ProcessHandle::destroyForcibly);
    p.destroyForcibly();
    try {
      p.waitFor(KILL_WAIT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static String read(Path out) {
    try {
      return Files.readString(out, StandardCharsets.UTF_8).strip();
    } catch (IOException e) {
      return "(output unreadable: " + e.getMessage() + ")";
    }
  }

  private static String millis(Duration d) {
    return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
  }
}
