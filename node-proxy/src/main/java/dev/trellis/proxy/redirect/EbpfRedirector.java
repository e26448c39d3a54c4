package dev.trellis.proxy.redirect;

import dev.trellis.proxy.host.HostCommand;
import dev.trellis.proxy.host.Mounts;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Outbound redirection with eBPF (trellis_redirect.bpf.c): for each captured pod one instance of the object is
 * loaded, its config and exclusion maps filled, and its five programs attached to the pod's cgroup v2
 * directory ({@code Target.cgroup}) as links pinned under {@code <pins>/pods/<container>/}. Pinned links
 * outlive this process: redirection survives the agent's restart, and a new agent finds it in place
 * ({@link #verify}). The shared {@code orig_dst} map is pinned at {@code <pins>/orig_dst}, where the node proxy
 * reads it ({@link EbpfOriginalDestinations}). Removing a pod deletes its pins (the links detach, the
 * programs and their maps go) and its entries in {@code orig_dst}. Calls come from the agent's one thread.
 */
public final class EbpfRedirector implements Redirector {

  private static final Logger log = LoggerFactory.getLogger(EbpfRedirector.class);
  static final List<String> PROGRAMS = List.of("trellis_connect4", "trellis_connect6", "trellis_sockops",
      "trellis_getpeername4", "trellis_getpeername6");
  static final String OBJECT = "bpf/trellis_redirect.bpf.o";
  static final String ORIG_DST = "orig_dst";

  /**
   * @param proxy4 the node proxy's IPv4 address as pods reach it (connects are rewritten to it)
   * @param proxy6 its IPv6 address, or null: IPv6 destinations are then left alone
   * @param port the outbound listener's port (15001)
   * @param pins the bpffs directory for Trellis's pins (default /sys/fs/bpf/trellis)
   */
  public record Config(Inet4Address proxy4, Inet6Address proxy6, int port, Path pins) {}

  private final Config config;
  private final Libbpf bpf;
  private final Path object;

  public EbpfRedirector(Config config) throws IOException {
    this.config = config;
    try {
      this.bpf = Libbpf.get();
    } catch (UnsatisfiedLinkError e) {
      throw new IOException("eBPF redirection needs libbpf.so.1 (Debian/Ubuntu: libbpf1): " + e.getMessage(), e);
    }
    ensureBpffs(config.pins());
    Files.createDirectories(config.pins().resolve("pods"));
    this.object = extractObject();
  }

  /** Why eBPF redirection cannot work here, or empty if the object loads (the agent then chooses it). */
  public static Optional<String> unavailableReason(Path pins) {
    try {
      Libbpf bpf = Libbpf.get();
      if (Mounts.fetch().cgroup2().isEmpty()) {
        return Optional.of("no cgroup v2 mount in /proc/mounts");
      }
      ensureBpffs(pins);
      Path object = extractObject();
      try {
        MemorySegment obj = bpf.openObject(object.toString());
        try {
          bpf.loadObject(obj, "the redirection programs");
        } finally {
          bpf.closeObject(obj);
        }
      } finally {
        Files.deleteIfExists(object);
      }
      return Optional.empty();
    } catch (IOException | UnsatisfiedLinkError | RuntimeException e) {
      return Optional.of(e.getMessage());
    }
  }

  private static void ensureBpffs(Path pins) throws IOException {
    Path root = pins.toAbsolutePath();
    if (!Mounts.fetch().covers(Mounts.BPF, root)) {
      Path fs = Path.of("/sys/fs/bpf");
      if (!root.startsWith(fs)) {
        throw new IOException("pin directory " + root + " is not on a bpf filesystem (mount one, or use /sys/fs/bpf/...)");
      }
      HostCommand.Result r = Commands.run(null, List.of("mount", "-t", "bpf", "bpf", fs.toString()), null);
      if (!r.ok()) {
        throw new IOException("bpffs is not mounted at /sys/fs/bpf and mounting it failed: " + r.output().strip());
      }
      log.info("mounted bpffs at /sys/fs/bpf");
    }
  }

  private static Path extractObject() throws IOException {
    Path tmp = Files.createTempFile("trellis-redirect", ".bpf.o");
    try (InputStream in = EbpfRedirector.class.getResourceAsStream(OBJECT)) {
      if (in == null) {
        throw new IOException("the BPF object " + OBJECT + " is missing from the node-proxy jar");
      }
      Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
    }
    tmp.toFile().deleteOnExit();
    return tmp;
  }

  Path podPins(Target t) {
    return config.pins().resolve("pods").resolve(t.containerId().replaceAll("[^A-Za-z0-9_.-]", "_"));
  }

  @Override
  public void install(Target t) throws IOException {
    if (t.cgroup() == null || !Files.isDirectory(Path.of(t.cgroup()))) {
      throw new IOException("pod " + t.namespace() + "/" + t.pod() + ": " + (t.cgroup() == null
          ? "its cgroup is not known (give \"cgroup\" in the pods file, or check the kubelet's cgroup layout)"
          : "cgroup " + t.cgroup() + " is not a directory (cgroup v2 expected)"));
    }
    if (verify(t)) {
      return; // in place (this agent, or the one before it, installed it)
    }
    removePins(t); // a partial install from an interrupted attempt
    Path dir = Files.createDirectories(podPins(t));
    MemorySegment obj = bpf.openObject(object.toString());
    try (Arena arena = Arena.ofConfined()) {
      bpf.pinMapAt(bpf.map(obj, ORIG_DST), config.pins().resolve(ORIG_DST).toString());
      bpf.loadObject(obj, "the redirection programs for " + t.namespace() + "/" + t.pod());
      bpf.update(bpf.mapFd(bpf.map(obj, "config")), arena.allocate(4),
          arena.allocateFrom(ValueLayout.JAVA_BYTE,
              EbpfMaps.config(config.proxy4(), config.proxy6(), config.port())));
      byte one = 1;
      MemorySegment value = arena.allocateFrom(ValueLayout.JAVA_BYTE, one);
      int ports = bpf.mapFd(bpf.map(obj, "excluded_ports"));
      for (int p : t.exclusions().ports()) {
        bpf.update(ports, bytes(arena, EbpfMaps.port(p)), value);
      }
      int cidrs4 = bpf.mapFd(bpf.map(obj, "excluded_cidrs4"));
      int cidrs6 = bpf.mapFd(bpf.map(obj, "excluded_cidrs6"));
      List<String> bypass = new ArrayList<>(t.exclusions().cidrs());
      // A pod dialing its own address stays inside the pod, as it does without a mesh (and under TPROXY).
      t.ips().forEach(ip -> bypass.add(ip + (ip.contains(":") ? "/128" : "/32")));
      for (String c : bypass) {
        bpf.update(EbpfMaps.isV6(c) ? cidrs6 : cidrs4, bytes(arena, EbpfMaps.lpm(c)), value);
      }
      for (String program : PROGRAMS) {
        bpf.attachAndPin(bpf.program(obj, program), program, t.cgroup(), dir.resolve(program).toString());
      }
    } catch (IOException | RuntimeException e) {
      removePins(t);
      throw e;
    } finally {
      bpf.closeObject(obj); // the pinned links keep the programs, and the programs their maps
    }
  }

  private static MemorySegment bytes(Arena arena, byte[] b) {
    return arena.allocateFrom(ValueLayout.JAVA_BYTE, b);
  }

  @Override
  public void remove(Target t) throws IOException {
    removePins(t);
    forgetConnectionsFrom(t.ips());
  }

  private void removePins(Target t) throws IOException {
    Path dir = podPins(t);
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> pins = Files.list(dir)) {
      for (Path p : pins.toList()) {
        // Detach first, so the program is gone when DEL returns (dropping the pin alone detaches it a
        // little later, once the kernel releases the pin's reference).
        int fd = bpf.pinned(p.toString());
        try {
          bpf.detach(fd, p.toString());
        } finally {
          bpf.closeFd(fd);
        }
        Files.deleteIfExists(p);
      }
    }
    Files.deleteIfExists(dir);
  }

  /** Deletes the pod's entries from the shared original-destination map. */
  void forgetConnectionsFrom(List<String> ips) throws IOException {
    Path pin = config.pins().resolve(ORIG_DST);
    if (!Files.exists(pin) || ips.isEmpty()) {
      return;
    }
    int fd = bpf.pinned(pin.toString());
    try (Arena arena = Arena.ofConfined()) {
      List<byte[]> keys = new ArrayList<>();
      MemorySegment key = arena.allocate(EbpfMaps.ADDR_PORT);
      MemorySegment next = arena.allocate(EbpfMaps.ADDR_PORT);
      MemorySegment previous = MemorySegment.NULL;
      while (bpf.nextKey(fd, previous, next)) {
        keys.add(next.toArray(ValueLayout.JAVA_BYTE));
        key.copyFrom(next);
        previous = key;
      }
      for (byte[] k : EbpfMaps.keysFrom(keys, ips)) {
        bpf.delete(fd, bytes(arena, k));
      }
    } finally {
      bpf.closeFd(fd);
    }
  }

  @Override
  public boolean verify(Target t) {
    Path dir = podPins(t);
    return PROGRAMS.stream().allMatch(p -> Files.exists(dir.resolve(p)));
  }

  /** Removes every pod's programs and the shared map: nothing of Trellis is left in bpffs. */
  public void removeAll() throws IOException {
    removeAll(config.pins());
  }

  /** {@link #removeAll()} without a loaded binding (uninstall on a node where libbpf is gone still cleans up). */
  public static void removeAll(Path pins) throws IOException {
    if (!Files.exists(pins)) {
      return;
    }
    try (Stream<Path> all = Files.walk(pins)) {
      for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  @Override
  public String name() {
    return "ebpf";
  }
}
