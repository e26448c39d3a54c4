package dev.trellis.cli.check;

import dev.trellis.cli.check.HostFacts.Directory;
import dev.trellis.cli.check.HostFacts.KernelConfig;
import dev.trellis.proxy.host.Mounts;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * {@code trellis check --host}: is this node ready for transparent capture? Pure over {@link HostFacts}: each check
 * says ok, warning or missing, and for anything not ok what to do. Capture needs nftables (inbound TPROXY always,
 * outbound when eBPF is unavailable); eBPF outbound redirection is preferred but optional. The CNI directories matter
 * only on a Kubernetes node, where the plugin chains into the cluster's network ({@code trellis up --netns} attaches
 * its pods itself): without them the report warns, but capture still works on this host.
 */
public final class HostCheck {

  /** How one check came out. */
  public enum Status { OK, WARNING, MISSING }

  /** What a missing item takes away. */
  public enum Need {
    /** eBPF outbound redirection (without it, outbound falls back to nftables). */
    EBPF,
    /** nftables TPROXY: inbound capture always, outbound as the fallback. */
    NFTABLES,
    /** The CNI plugin chained into the node's network configuration (on a Kubernetes node; not for up --netns). */
    CNI
  }

  /** One check: {@code fix} is empty when there is nothing to do; {@code blocks} what it makes unavailable. */
  public record Finding(String check, Status status, String detail, String fix, Set<Need> blocks) {
    public Finding {
      blocks = blocks.isEmpty() ? Set.of() : Set.copyOf(EnumSet.copyOf(blocks));
    }

    static Finding ok(String check, String detail) {
      return new Finding(check, Status.OK, detail, "", Set.of());
    }

    static Finding warning(String check, String detail, String fix) {
      return new Finding(check, Status.WARNING, detail, fix, Set.of());
    }

    static Finding missing(String check, String detail, String fix, Need first, Need... rest) {
      return new Finding(check, Status.MISSING, detail, fix, EnumSet.of(first, rest));
    }
  }

  /** Every finding, in a fixed order, and the verdict they add up to. */
  public record Report(List<Finding> findings) {
    public Report {
      findings = List.copyOf(findings);
    }

    /**
     * Whether transparent capture can work here (with eBPF or with the nftables fallback); what a Kubernetes node
     * needs beyond that ({@link Need#CNI}) does not count.
     */
    public boolean ready() {
      return blocked(Need.NFTABLES).isEmpty();
    }

    /** What {@code trellis check --host} exits with: 1 only when capture cannot work here at all. */
    public int exitCode() {
      return ready() ? 0 : 1;
    }

    public boolean ebpf() {
      return blocked(Need.EBPF).isEmpty();
    }

    /** The checks that take {@code need} away. */
    public List<String> blocked(Need need) {
      return findings.stream().filter(f -> f.blocks().contains(need)).map(Finding::check).toList();
    }

    /** The report as a person reads it: one line per check, its fix indented below, the verdict last. */
    public List<String> lines() {
      List<String> out = new ArrayList<>();
      for (Finding f : findings) {
        CheckLines.add(out, f.status(), f.check(), f.detail(), f.fix());
      }
      String kubernetes = blocked(Need.CNI).isEmpty() ? ""
          : "; a Kubernetes node also needs: " + String.join(", ", blocked(Need.CNI));
      if (!ready()) {
        out.add("capture: NOT ready on this host; fix: " + String.join(", ", blocked(Need.NFTABLES)) + kubernetes);
      } else if (ebpf()) {
        out.add("capture: ready (outbound by eBPF, inbound by nftables TPROXY)" + kubernetes);
      } else {
        out.add("capture: ready with the nftables fallback (eBPF unavailable: " + String.join(", ", blocked(Need.EBPF))
            + ")" + kubernetes);
      }
      return out;
    }
  }

  /** The names of every check, in report order. */
  public static final List<String> CHECKS = List.of("kernel", "cgroup v2", "bpffs", "libbpf", "privileges", "seccomp",
      "kernel config bpf", "kernel config nft", "btf", "nft", "cni config dir", "cni bin dir");

  static final int CAP_NET_ADMIN = 12;
  static final int CAP_SYS_ADMIN = 21;
  static final int CAP_BPF = 39;
  private static final Pattern VERSION = Pattern.compile("^(\\d+)\\.(\\d+)");
  private static final String UPGRADE = "upgrade the node's kernel to 5.8 or newer";

  private HostCheck() {}

  public static Report decide(HostFacts facts) {
    List<Finding> out = new ArrayList<>();
    out.add(kernel(facts.kernelRelease()));
    Mounts mounts = Mounts.parse(facts.mounts());
    out.add(cgroup2(mounts));
    out.add(bpffs(mounts));
    out.add(facts.libbpfError().map(e -> Finding.missing("libbpf", "libbpf.so.1 cannot be loaded: " + e,
            "apt-get install libbpf1 (Debian/Ubuntu) or dnf install libbpf (Fedora/RHEL); the node agent loads "
                + "libbpf.so.1 through the dynamic linker, so LD_LIBRARY_PATH applies", Need.EBPF))
        .orElse(Finding.ok("libbpf", "libbpf.so.1 loads")));
    out.add(privileges(facts.effectiveCapabilities()));
    out.add(seccomp(facts.seccompMode()));
    out.add(kernelConfig("kernel config bpf", facts.kernelConfig(), List.of("BPF_SYSCALL", "CGROUP_BPF"), Need.EBPF,
        "a kernel built with CONFIG_BPF_SYSCALL=y and CONFIG_CGROUP_BPF=y (cgroup/connect4, connect6, sock_ops)"));
    out.add(kernelConfig("kernel config nft", facts.kernelConfig(), List.of("NF_TABLES", "NFT_TPROXY",
        "NF_TPROXY_IPV4"), Need.NFTABLES, "a kernel with CONFIG_NF_TABLES, CONFIG_NFT_TPROXY and CONFIG_NF_TPROXY_IPV4 "
        + "(y or m)"));
    out.add(Finding.ok("btf", (facts.btfVmlinux() ? "/sys/kernel/btf/vmlinux present" : "/sys/kernel/btf/vmlinux absent")
        + " (not needed: the programs use no CO-RE relocations)"));
    out.add(facts.nft().map(p -> Finding.ok("nft", p.toString()))
        .orElse(Finding.missing("nft", "no nft binary on the search path (nftables TPROXY needs it)",
            "apt-get install nftables (Debian/Ubuntu) or dnf install nftables (Fedora/RHEL)", Need.NFTABLES)));
    out.add(cniConf(facts.cniConfDir()));
    out.add(cniBin(facts.cniBinDir()));
    return new Report(out);
  }

  static Finding kernel(String release) {
    Matcher m = VERSION.matcher(release);
    if (!m.find()) {
      return Finding.warning("kernel", "cannot read a version from '" + release + "'",
          "make sure the kernel is 5.8 or newer (eBPF) and 4.19 or newer (nftables TPROXY)");
    }
    int major = Integer.parseInt(m.group(1));
    int minor = Integer.parseInt(m.group(2));
    if (major < 4 || (major == 4 && minor < 19)) {
      return Finding.missing("kernel", release + " (nftables TPROXY needs 4.19, eBPF redirection 5.8)", UPGRADE,
          Need.NFTABLES, Need.EBPF);
    }
    if (major < 5 || (major == 5 && minor < 8)) {
      return Finding.missing("kernel", release + " (eBPF redirection needs 5.8 for cgroup/getpeername4/6; outbound "
          + "falls back to nftables)", UPGRADE, Need.EBPF);
    }
    return Finding.ok("kernel", release);
  }

  static Finding cgroup2(Mounts mounts) {
    Optional<Path> v2 = mounts.cgroup2();
    boolean v1 = mounts.first(Mounts.CGROUP1).isPresent();
    if (v2.isEmpty()) {
      return Finding.missing("cgroup v2", "no cgroup2 mount in /proc/mounts (eBPF attaches to pods' cgroup v2 "
          + "directories)", "boot with systemd.unified_cgroup_hierarchy=1 (cgroup v2 only), or mount it: "
          + "mount -t cgroup2 none /sys/fs/cgroup/unified", Need.EBPF);
    }
    if (v1) {
      return Finding.warning("cgroup v2", "at " + v2.get() + " beside cgroup v1 controllers (hybrid layout): pods' "
          + "cgroups exist in the v2 tree only with the kubelet's systemd cgroup driver",
          "prefer cgroup v2 only (boot with systemd.unified_cgroup_hierarchy=1); else use cgroupDriver: systemd");
    }
    return Finding.ok("cgroup v2", "at " + v2.get());
  }

  static Finding bpffs(Mounts mounts) {
    List<String> at = mounts.points(Mounts.BPF).stream().map(Path::toString).toList();
    String fix = "mount -t bpf bpf /sys/fs/bpf (to keep it: 'bpf /sys/fs/bpf bpf defaults 0 0' in /etc/fstab)";
    if (at.contains("/sys/fs/bpf")) {
      return Finding.ok("bpffs", "at /sys/fs/bpf");
    }
    if (!at.isEmpty()) {
      return Finding.warning("bpffs", "at " + String.join(", ", at) + " but not at /sys/fs/bpf, where the pins live",
          fix);
    }
    return Finding.warning("bpffs", "not mounted: the node agent mounts it when it runs as root, but pins outlive an "
        + "agent restart only on the host's /sys/fs/bpf", fix);
  }

  static Finding privileges(long caps) {
    boolean netAdmin = has(caps, CAP_NET_ADMIN);
    boolean bpf = has(caps, CAP_BPF) || has(caps, CAP_SYS_ADMIN);
    String fix = "run the node agent as root (the chart's DaemonSet runs it privileged) or grant it CAP_NET_ADMIN "
        + "and CAP_BPF (CAP_SYS_ADMIN on kernels without CAP_BPF)";
    if (!netAdmin) {
      return Finding.missing("privileges", "this process lacks CAP_NET_ADMIN (nftables rules, cgroup attach)", fix,
          Need.NFTABLES, Need.EBPF);
    }
    if (!bpf) {
      return Finding.missing("privileges", "this process lacks CAP_BPF and CAP_SYS_ADMIN (loading BPF programs)", fix,
          Need.EBPF);
    }
    return Finding.ok("privileges", "CAP_NET_ADMIN and " + (has(caps, CAP_BPF) ? "CAP_BPF" : "CAP_SYS_ADMIN"));
  }

  static Finding seccomp(int mode) {
    return switch (mode) {
      case 0 -> Finding.ok("seccomp", "no filter");
      case -1 -> Finding.warning("seccomp", "unknown (no Seccomp line in /proc/self/status)",
          "run the node agent privileged or with seccompProfile Unconfined");
      default -> Finding.warning("seccomp", "a seccomp filter is active: container runtimes' default profile refuses "
          + "bpf()", "run the node agent privileged or with seccompProfile Unconfined (the chart's DaemonSet does)");
    };
  }

  static Finding kernelConfig(String check, Optional<KernelConfig> config, List<String> options, Need need,
      String fix) {
    if (config.isEmpty()) {
      return Finding.warning(check, "cannot tell: neither /proc/config.gz nor /boot/config-<release> exists "
          + "(the node agent's load test decides at start with --redirect auto)", "modprobe configs (for /proc/config.gz)");
    }
    List<String> unset = options.stream()
        .filter(o -> !config.get().value(o).map(v -> v.equals("y") || v.equals("m")).orElse(false)).toList();
    String names = options.stream().map(o -> "CONFIG_" + o + "=" + config.get().value(o).orElse("(unset)"))
        .collect(Collectors.joining(", "));
    if (unset.isEmpty()) {
      return Finding.ok(check, names + " (" + config.get().source() + ")");
    }
    return Finding.missing(check, names + " (" + config.get().source() + ")", fix, need);
  }

  static Finding cniConf(Directory dir) {
    if (dir.files().isEmpty()) {
      return kubernetesOnly("cni config dir", dir.path() + " does not exist", "install the cluster's network (CNI) "
          + "plugin first, or point --cni-conf-dir at the runtime's CNI conf_dir");
    }
    Optional<String> first = dir.files().get().stream()
        .filter(f -> f.endsWith(".conflist") || f.endsWith(".conf") || f.endsWith(".json")).sorted().findFirst();
    return first.map(f -> Finding.ok("cni config dir", dir.path() + ": trellis-cni chains into " + f))
        .orElse(Finding.warning("cni config dir", dir.path() + " has no network configuration yet: the node agent "
            + "chains trellis-cni once the cluster's CNI plugin writes one", "install the cluster's network (CNI) plugin"));
  }

  static Finding cniBin(Directory dir) {
    if (dir.files().isEmpty()) {
      return kubernetesOnly("cni bin dir", dir.path() + " does not exist", "install the CNI plugins (e.g. "
          + "containernetworking-plugins), or point --cni-bin-dir at the runtime's CNI bin_dir");
    }
    int n = dir.files().get().size();
    return n == 0 ? Finding.warning("cni bin dir", dir.path() + " is empty", "install the CNI plugins (e.g. "
        + "containernetworking-plugins)")
        : Finding.ok("cni bin dir", dir.path() + " (" + n + (n == 1 ? " file)" : " files)"));
  }

  /** A warning about what only a Kubernetes node needs: the CNI plugin cannot chain in, capture itself still works. */
  private static Finding kubernetesOnly(String check, String detail, String fix) {
    return new Finding(check, Status.WARNING, detail + " (needed on a Kubernetes node only; 'trellis up --netns' "
        + "attaches its pods without it)", "on a Kubernetes node: " + fix, Set.of(Need.CNI));
  }

  private static boolean has(long caps, int capability) {
    return (caps & (1L << capability)) != 0;
  }
}
