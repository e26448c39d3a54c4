package dev.trellis.proxy.redirect;

import dev.trellis.proxy.host.HostCommand;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The system tools redirection uses ({@code nft}, {@code ip}, {@code mount}), optionally inside a network namespace
 * ({@code ip netns exec}), run through {@link HostCommand} with a timeout that fires even when a tool hangs.
 */
final class Commands {

  static final Duration TIMEOUT = Duration.ofSeconds(30);

  private Commands() {}

  /** Runs {@code command} (in {@code netns} unless null) with {@code stdin} (may be null) as its input. */
  static HostCommand.Result run(String netns, List<String> command, String stdin) throws IOException {
    List<String> cmd = new ArrayList<>();
    if (netns != null) {
      cmd.addAll(List.of("ip", "netns", "exec", netns));
    }
    cmd.addAll(command);
    return HostCommand.run(cmd, Map.of(), stdin == null ? "" : stdin, TIMEOUT);
  }
}
