package dev.trellis.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * The host programs {@code trellis up --netns} runs, each with what it is for and the Debian package that installs
 * it. {@link #missing} decides (pure), {@link #onPath} looks; {@code up} checks before it creates anything.
 */
final class NetnsPrograms {

  /** A program the run needs on the search path. */
  record Program(String name, String usedFor, String debianPackage) {}

  static final List<Program> NEEDED = List.of(
      new Program("ip", "creates the namespaces, links, addresses and routes", "iproute2"),
      new Program("nsenter", "starts each node's and pod's processes in its namespace", "util-linux"),
      new Program("nft", "loads the node agents' capture rules (inbound TPROXY always, outbound without eBPF)", "nftables"),
      new Program("sysctl", "turns on forwarding in each node's namespace", "procps"),
      new Program("bash", "probes readiness inside the namespaces", "bash"));

  private NetnsPrograms() {}

  /**
   * One line per program of {@link #NEEDED} that is not {@code installed} (what it is for, its package), then one
   * {@code apt-get install} line for all of them; empty when everything is there.
   */
  static List<String> missing(Predicate<String> installed) {
    List<String> out = new ArrayList<>();
    List<String> packages = new ArrayList<>();
    for (Program p : NEEDED) {
      if (!installed.test(p.name())) {
        out.add("'" + p.name() + "' is not installed (it " + p.usedFor() + "): Debian/Ubuntu package "
            + p.debianPackage());
        if (!packages.contains(p.debianPackage())) {
          packages.add(p.debianPackage());
        }
      }
    }
    if (!packages.isEmpty()) {
      out.add("install " + (packages.size() == 1 ? "it" : "them") + " with: apt-get install -y "
          + String.join(" ", packages));
    }
    return out;
  }

  /** Whether {@code name} is an executable file in a folder of $PATH, where the processes it starts look. */
  static boolean onPath(String name) {
    String path = System.getenv("PATH");
    if (path == null) {
      return false;
    }
    for (String dir : path.split(":")) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, name))) {
        return true;
      }
    }
    return false;
  }
}
