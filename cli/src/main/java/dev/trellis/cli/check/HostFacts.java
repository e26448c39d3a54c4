package dev.trellis.cli.check;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * What {@link HostCheck} looks at, as plain values: tests build them by hand, {@link HostFactsReader} reads them
 * from the running machine.
 *
 * @param kernelRelease as {@code uname -r} prints it
 * @param mounts the text of {@code /proc/mounts}
 * @param kernelConfig the kernel's build configuration, when the machine exposes it
 * @param effectiveCapabilities {@code CapEff} of {@code /proc/self/status} (bit n = capability n)
 * @param seccompMode {@code Seccomp} of {@code /proc/self/status}: 0 none, 1 strict, 2 filter, -1 unknown
 * @param libbpfError why {@code libbpf.so.1} could not be loaded; empty when it was
 * @param btfVmlinux whether {@code /sys/kernel/btf/vmlinux} exists
 * @param nft where the {@code nft} binary is, if anywhere on the search path
 * @param cniConfDir the CNI configuration directory and the files in it
 * @param cniBinDir the CNI plugin directory and the files in it
 */
public record HostFacts(String kernelRelease, String mounts, Optional<KernelConfig> kernelConfig,
    long effectiveCapabilities, int seccompMode, Optional<String> libbpfError, boolean btfVmlinux, Optional<Path> nft,
    Directory cniConfDir, Directory cniBinDir) {

  /** A kernel configuration ({@code CONFIG_X=y} lines) and where it was read from. */
  public record KernelConfig(String source, String text) {

    /** The value of {@code CONFIG_<name>} ({@code y}, {@code m}, ...), empty when it is not set. */
    Optional<String> value(String name) {
      String prefix = "CONFIG_" + name + "=";
      return text.lines().filter(l -> l.startsWith(prefix)).map(l -> l.substring(prefix.length()).strip()).findFirst();
    }
  }

  /** A directory and its file names; {@code files} is empty when the directory does not exist. */
  public record Directory(Path path, Optional<List<String>> files) {
    public Directory {
      files = files.map(List::copyOf);
    }

    public static Directory missing(Path path) {
      return new Directory(path, Optional.empty());
    }

    public static Directory of(Path path, String... files) {
      return new Directory(path, Optional.of(List.of(files)));
    }
  }
}
