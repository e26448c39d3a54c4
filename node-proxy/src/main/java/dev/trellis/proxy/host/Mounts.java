package dev.trellis.proxy.host;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The host's mounts as {@code /proc/mounts} lists them: where cgroup v2 is (pods' cgroups, where eBPF programs
 * attach) and whether a path lies on a bpf filesystem (where pins live). {@link #parse} is pure; {@link #fetch}
 * reads this machine's.
 */
public record Mounts(List<Mount> all) {

  /** One line of {@code /proc/mounts}: device, mount point, file system type. */
  public record Mount(String device, Path point, String type) {}

  /** The cgroup v2 file system type. */
  public static final String CGROUP2 = "cgroup2";
  /** The cgroup v1 file system type. */
  public static final String CGROUP1 = "cgroup";
  /** The bpf file system type (bpffs). */
  public static final String BPF = "bpf";

  public Mounts {
    all = List.copyOf(all);
  }

  /** The mounts in {@code procMounts} (the text of {@code /proc/mounts}); lines it cannot read are skipped. */
  public static Mounts parse(String procMounts) {
    return new Mounts(procMounts.lines().map(l -> l.split(" ")).filter(f -> f.length > 2)
        .map(f -> new Mount(f[0], Path.of(unescape(f[1])), f[2])).toList());
  }

  /** This machine's mounts; none when {@code /proc/mounts} cannot be read. */
  public static Mounts fetch() {
    try {
      return parse(Files.readString(Path.of("/proc/mounts"), StandardCharsets.UTF_8));
    } catch (IOException e) {
      return new Mounts(List.of());
    }
  }

  /** Where cgroup v2 is mounted (on a hybrid layout, e.g. /sys/fs/cgroup/unified). */
  public Optional<Path> cgroup2() {
    return first(CGROUP2);
  }

  /** The first mount point of file system {@code type}. */
  public Optional<Path> first(String type) {
    return points(type).stream().findFirst();
  }

  /** Every mount point of file system {@code type}, in {@code /proc/mounts} order. */
  public List<Path> points(String type) {
    return all.stream().filter(m -> m.type().equals(type)).map(Mount::point).toList();
  }

  /** Whether {@code path} (absolute) lies on a mount of file system {@code type}. */
  public boolean covers(String type, Path path) {
    return points(type).stream().anyMatch(path::startsWith);
  }

  /** /proc/mounts writes a space in a path as \040 (and tab, newline, backslash likewise). */
  private static String unescape(String field) {
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\");
  }
}
