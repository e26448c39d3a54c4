package dev.trellis.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Decides how {@code trellis restart NODE} starts a node proxy's successor: the command line {@code up} recorded,
 * with a {@code --ready-file} of its own (both processes share every port while they overlap, so a probe of
 * {@code /healthz/ready} may reach the old one), and a log of its own (the old process still writes to its log
 * while it drains). No I/O here; {@link RestartCommand} does the starting.
 */
final class RestartPlan {

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
