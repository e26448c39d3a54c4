package dev.trellis.it;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The host programs the end-to-end tests run, checked before a test starts one: a missing program fails the test at
 * once with a message naming its Debian package ({@code scripts/setup-host} installs them all), instead of a timeout
 * waiting for output that never comes.
 */
final class HostTools {

  /** A program and the Debian package that has it. */
  enum Tool {
    IP("ip", "iproute2"),
    NFT("nft", "nftables"),
    SYSCTL("sysctl", "procps"),
    NSENTER("nsenter", "util-linux"),
    CURL("curl", "curl"),
    TCPDUMP("tcpdump", "tcpdump"),
    BPFTOOL("bpftool", "bpftool");

    final String program;
    final String debianPackage;

    Tool(String program, String debianPackage) {
      this.program = program;
      this.debianPackage = debianPackage;
    }
  }

  private HostTools() {}

  /** Fails (AssertionError) naming the package of the first of {@code tools} not on this process's PATH. */
  static void require(Tool... tools) {
    for (Tool t : tools) {
      require(t.program, t.debianPackage);
    }
  }

  /** Fails (AssertionError) if {@code program} is not on this process's PATH, naming {@code debianPackage}. */
  static void require(String program, String debianPackage) {
    missing(program, debianPackage, searchPath()).ifPresent(message -> {
      throw new AssertionError(message);
    });
  }

  /** The message for {@code program} if no directory of {@code path} has it as an executable file. */
  static Optional<String> missing(String program, String debianPackage, List<Path> path) {
    for (Path dir : path) {
      Path candidate = dir.resolve(program);
      if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
        return Optional.empty();
      }
    }
    return Optional.of(program + " is not installed: apt-get install " + debianPackage + " (or run scripts/setup-host)");
  }

  /** The directories of $PATH, where the tests' process starts (and {@code nsenter}'s exec) look programs up. */
  static List<Path> searchPath() {
    List<Path> dirs = new ArrayList<>();
    for (String d : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      if (!d.isEmpty()) {
        dirs.add(Path.of(d));
      }
    }
    return dirs;
  }
}
