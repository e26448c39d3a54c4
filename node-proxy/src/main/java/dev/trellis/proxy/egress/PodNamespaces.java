package dev.trellis.proxy.egress;

import dev.trellis.proxy.redirect.AgentStateFile;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Which network namespace each captured pod of this node lives in, as the node agent recorded it: the agent's
 * state file ({@link AgentStateFile}: every attachment the runtime reported, with its {@code CNI_NETNS} path and
 * addresses, and whether it is captured), which the agent replaces atomically before it answers a CNI ADD and
 * keeps across restarts of either process. A lookup checks the file's identity and time first and re-reads it
 * only when it changed (a stat per lookup, no watcher), so a pod captured a moment ago is found. Only captured
 * pods count. Not thread-safe: the netns dialer's one thread uses it.
 */
final class PodNamespaces {

  private final Path stateFile;
  private final AgentStateFile state;
  private Object version;
  private Map<InetAddress, String> byAddress = Map.of();

  PodNamespaces(Path stateFile) {
    this.stateFile = stateFile;
    this.state = new AgentStateFile(stateFile);
  }

  Path stateFile() {
    return stateFile;
  }

  /**
   * The namespace path of the captured pod at {@code address}.
   *
   * @throws IOException the state file cannot be read (it names the file)
   */
  Optional<String> find(InetAddress address) throws IOException {
    refresh();
    return Optional.ofNullable(byAddress.get(address));
  }

  private void refresh() throws IOException {
    Object current;
    try {
      BasicFileAttributes a = Files.readAttributes(stateFile, BasicFileAttributes.class);
      current = List.of(Objects.requireNonNullElse(a.fileKey(), ""), a.lastModifiedTime(), a.size());
    } catch (NoSuchFileException e) {
      current = "absent";
    }
    if (current.equals(version)) {
      return;
    }
    byAddress = index(state.load());
    version = current;
  }

  /** Captured pods' addresses to their namespace paths (pure). */
  static Map<InetAddress, String> index(List<AgentStateFile.Entry> entries) {
    Map<InetAddress, String> out = new HashMap<>();
    for (AgentStateFile.Entry e : entries) {
      String netns = e.attachment().netns();
      if (!e.captured() || netns == null || netns.isBlank()) {
        continue;
      }
      for (String ip : e.attachment().ips()) {
        try {
          out.put(InetAddress.ofLiteral(ip.contains("/") ? ip.substring(0, ip.indexOf('/')) : ip), netns);
        } catch (IllegalArgumentException ignored) {
          // not an address: the agent never captures by it either
        }
      }
    }
    return Map.copyOf(out);
  }
}
