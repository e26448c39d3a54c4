package dev.trellis.cli.check;

import dev.trellis.cli.check.HostFacts.Directory;
import dev.trellis.cli.check.HostFacts.KernelConfig;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

/** Reads {@link HostFacts} from the running Linux machine; thin on purpose, every decision is in {@link HostCheck}. */
public final class HostFactsReader {

  private HostFactsReader() {}

  /** The facts of this machine, with the CNI directories to look at. Never throws: what cannot be read is absent. */
  public static HostFacts fetch(Path cniConfDir, Path cniBinDir) {
    String release = read(Path.of("/proc/sys/kernel/osrelease")).map(String::strip)
        .orElse(System.getProperty("os.version"));
    String status = read(Path.of("/proc/self/status")).orElse("");
    return new HostFacts(release, read(Path.of("/proc/mounts")).orElse(""), kernelConfig(release),
        Long.parseUnsignedLong(field(status, "CapEff:").orElse("0"), 16),
        field(status, "Seccomp:").map(Integer::parseInt).orElse(-1), libbpfError(),
        Files.exists(Path.of("/sys/kernel/btf/vmlinux")), nft(), directory(cniConfDir), directory(cniBinDir));
  }

  private static Optional<KernelConfig> kernelConfig(String release) {
    Path gz = Path.of("/proc/config.gz");
    if (Files.isReadable(gz)) {
      try (InputStream in = new GZIPInputStream(Files.newInputStream(gz))) {
        return Optional.of(new KernelConfig(gz.toString(), new String(in.readAllBytes(), StandardCharsets.UTF_8)));
      } catch (IOException e) {
        // fall through to /boot
      }
    }
    Path boot = Path.of("/boot/config-" + release);
    return read(boot).map(text -> new KernelConfig(boot.toString(), text));
  }

  /** Loads libbpf the way the node agent does ({@code redirect.Libbpf}) and lets it go again. */
  private static Optional<String> libbpfError() {
    try (Arena arena = Arena.ofConfined()) {
      SymbolLookup.libraryLookup("libbpf.so.1", arena);
      return Optional.empty();
    } catch (IllegalArgumentException | IllegalCallerException e) {
      return Optional.of(e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage());
    }
  }

  private static Optional<Path> nft() {
    List<String> dirs = new ArrayList<>();
    String path = System.getenv("PATH");
    if (path != null) {
      dirs.addAll(List.of(path.split(":")));
    }
    // root's PATH may lack the sbin directories where distributions put nft.
    dirs.addAll(List.of("/usr/sbin", "/sbin", "/usr/local/sbin"));
    return dirs.stream().filter(d -> !d.isEmpty()).map(d -> Path.of(d, "nft")).filter(Files::isExecutable).findFirst();
  }

  private static Directory directory(Path dir) {
    if (!Files.isDirectory(dir)) {
      return Directory.missing(dir);
    }
    try (Stream<Path> files = Files.list(dir)) {
      return new Directory(dir, Optional.of(files.map(f -> f.getFileName().toString()).sorted().toList()));
    } catch (IOException e) {
      return Directory.missing(dir);
    }
  }

  private static Optional<String> field(String status, String name) {
    return status.lines().filter(l -> l.startsWith(name)).map(l -> l.substring(name.length()).strip()).findFirst();
  }

  private static Optional<String> read(Path file) {
    try {
      return Optional.of(Files.readString(file, StandardCharsets.UTF_8));
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }
}
