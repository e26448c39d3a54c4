package dev.trellis.cli.check;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.cli.check.HostCheck.Finding;
import dev.trellis.cli.check.HostCheck.Need;
import dev.trellis.cli.check.HostCheck.Status;
import dev.trellis.cli.check.HostFacts.Directory;
import dev.trellis.cli.check.HostFacts.KernelConfig;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class HostCheckTest {

  static final String UNIFIED = """
      sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
      cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate 0 0
      bpf /sys/fs/bpf bpf rw,nosuid,nodev,noexec,relatime,mode=700 0 0
      """;
  static final String HYBRID = """
      tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
      cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0
      cgroup /sys/fs/cgroup/systemd cgroup rw,relatime,name=systemd 0 0
      cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
      """;
  static final String V1_ONLY = """
      tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
      cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0
      """;
  static final KernelConfig CONFIG = new KernelConfig("/proc/config.gz", """
      CONFIG_BPF_SYSCALL=y
      CONFIG_CGROUP_BPF=y
      CONFIG_NF_TABLES=m
      CONFIG_NFT_TPROXY=m
      CONFIG_NF_TPROXY_IPV4=y
      """);
  static final long ROOT_CAPS = 0x000001ffffffffffL;

  /** A node where everything is in place. */
  static HostFacts ready() {
    return new HostFacts("6.8.0-45-generic", UNIFIED, Optional.of(CONFIG), ROOT_CAPS, 0, Optional.empty(), true,
        Optional.of(Path.of("/usr/sbin/nft")), Directory.of(Path.of("/etc/cni/net.d"), "10-calico.conflist"),
        Directory.of(Path.of("/opt/cni/bin"), "bridge", "calico", "loopback"));
  }

  static HostFacts with(UnaryOperator<Builder> change) {
    return change.apply(new Builder(ready())).facts;
  }

  /** Changes one fact at a time. */
  record Builder(HostFacts facts) {
    Builder kernel(String r) {
      return new Builder(new HostFacts(r, facts.mounts(), facts.kernelConfig(), facts.effectiveCapabilities(),
          facts.seccompMode(), facts.libbpfError(), facts.btfVmlinux(), facts.nft(), facts.cniConfDir(), facts.cniBinDir()));
    }

    Builder mounts(String m) {
      return new Builder(new HostFacts(facts.kernelRelease(), m, facts.kernelConfig(), facts.effectiveCapabilities(),
          facts.seccompMode(), facts.libbpfError(), facts.btfVmlinux(), facts.nft(), facts.cniConfDir(), facts.cniBinDir()));
    }

    Builder config(Optional<KernelConfig> c) {
      return new Builder(new HostFacts(facts.kernelRelease(), facts.mounts(), c, facts.effectiveCapabilities(),
          facts.seccompMode(), facts.libbpfError(), facts.btfVmlinux(), facts.nft(), facts.cniConfDir(), facts.cniBinDir()));
    }

    Builder caps(long caps, int seccomp) {
      return new Builder(new HostFacts(facts.kernelRelease(), facts.mounts(), facts.kernelConfig(), caps, seccomp,
          facts.libbpfError(), facts.btfVmlinux(), facts.nft(), facts.cniConfDir(), facts.cniBinDir()));
    }

    Builder libbpf(String error) {
      return new Builder(new HostFacts(facts.kernelRelease(), facts.mounts(), facts.kernelConfig(),
          facts.effectiveCapabilities(), facts.seccompMode(), Optional.of(error), facts.btfVmlinux(), facts.nft(),
          facts.cniConfDir(), facts.cniBinDir()));
    }

    Builder withoutNftAndBtf() {
      return new Builder(new HostFacts(facts.kernelRelease(), facts.mounts(), facts.kernelConfig(),
          facts.effectiveCapabilities(), facts.seccompMode(), facts.libbpfError(), false, Optional.empty(),
          facts.cniConfDir(), facts.cniBinDir()));
    }

    Builder cni(Directory conf, Directory bin) {
      return new Builder(new HostFacts(facts.kernelRelease(), facts.mounts(), facts.kernelConfig(),
          facts.effectiveCapabilities(), facts.seccompMode(), facts.libbpfError(), facts.btfVmlinux(), facts.nft(),
          conf, bin));
    }
  }

  @Test
  void aReadyNodeIsOkEverywhereAndUsesEbpf() {
    HostCheck.Report report = HostCheck.decide(ready());

    assertThat(report.findings()).extracting(Finding::check).containsExactlyElementsOf(HostCheck.CHECKS);
    assertThat(report.findings()).allSatisfy(f -> assertThat(f.status()).as(f.toString()).isEqualTo(Status.OK));
    assertThat(report.ready()).isTrue();
    assertThat(report.ebpf()).isTrue();
    assertThat(report.lines()).last().isEqualTo("capture: ready (outbound by eBPF, inbound by nftables TPROXY)");
    assertThat(report.lines()).contains(
        "ok       cni config dir     /etc/cni/net.d: trellis-cni chains into 10-calico.conflist");
  }

  static Stream<Arguments> findings() {
    Directory noConf = Directory.missing(Path.of("/etc/cni/net.d"));
    Directory bin = Directory.of(Path.of("/opt/cni/bin"), "bridge");
    return Stream.of(
        Arguments.of("kernel 5.4", with(b -> b.kernel("5.4.0-150-generic")), "kernel", Status.MISSING,
            "eBPF redirection needs 5.8", Set.of(Need.EBPF)),
        Arguments.of("kernel 4.14", with(b -> b.kernel("4.14.1")), "kernel", Status.MISSING,
            "nftables TPROXY needs 4.19", Set.of(Need.EBPF, Need.NFTABLES)),
        Arguments.of("kernel unreadable", with(b -> b.kernel("weird")), "kernel", Status.WARNING,
            "cannot read a version", Set.of()),
        Arguments.of("hybrid cgroups", with(b -> b.mounts(HYBRID)), "cgroup v2", Status.WARNING,
            "at /sys/fs/cgroup/unified beside cgroup v1 controllers (hybrid layout)", Set.of()),
        Arguments.of("cgroup v1 only", with(b -> b.mounts(V1_ONLY)), "cgroup v2", Status.MISSING,
            "no cgroup2 mount in /proc/mounts", Set.of(Need.EBPF)),
        Arguments.of("bpffs not mounted", with(b -> b.mounts(HYBRID)), "bpffs", Status.WARNING,
            "not mounted", Set.of()),
        Arguments.of("bpffs elsewhere", with(b -> b.mounts(UNIFIED.replace("bpf /sys/fs/bpf", "bpf /run/bpf"))),
            "bpffs", Status.WARNING, "at /run/bpf but not at /sys/fs/bpf", Set.of()),
        Arguments.of("no libbpf", with(b -> b.libbpf("libbpf.so.1: cannot open shared object file")), "libbpf",
            Status.MISSING, "libbpf.so.1 cannot be loaded: libbpf.so.1: cannot open", Set.of(Need.EBPF)),
        Arguments.of("no capabilities", with(b -> b.caps(0, 0)), "privileges", Status.MISSING,
            "lacks CAP_NET_ADMIN", Set.of(Need.EBPF, Need.NFTABLES)),
        Arguments.of("net admin only", with(b -> b.caps(1L << HostCheck.CAP_NET_ADMIN, 0)), "privileges",
            Status.MISSING, "lacks CAP_BPF and CAP_SYS_ADMIN", Set.of(Need.EBPF)),
        Arguments.of("sys admin instead of bpf",
            with(b -> b.caps(1L << HostCheck.CAP_NET_ADMIN | 1L << HostCheck.CAP_SYS_ADMIN, 0)), "privileges",
            Status.OK, "CAP_NET_ADMIN and CAP_SYS_ADMIN", Set.of()),
        Arguments.of("seccomp filter", with(b -> b.caps(ROOT_CAPS, 2)), "seccomp", Status.WARNING,
            "default profile refuses bpf()", Set.of()),
        Arguments.of("no kernel config", with(b -> b.config(Optional.empty())), "kernel config bpf", Status.WARNING,
            "cannot tell", Set.of()),
        Arguments.of("no cgroup bpf", with(b -> b.config(Optional.of(new KernelConfig("/boot/config-6.8",
            "CONFIG_BPF_SYSCALL=y\n# CONFIG_CGROUP_BPF is not set\n")))), "kernel config bpf", Status.MISSING,
            "CONFIG_CGROUP_BPF=(unset)", Set.of(Need.EBPF)),
        Arguments.of("no nft tproxy", with(b -> b.config(Optional.of(new KernelConfig("/boot/config-6.8",
            "CONFIG_NF_TABLES=y\nCONFIG_NF_TPROXY_IPV4=m\n")))), "kernel config nft", Status.MISSING,
            "CONFIG_NFT_TPROXY=(unset)", Set.of(Need.NFTABLES)),
        Arguments.of("no btf", with(Builder::withoutNftAndBtf), "btf", Status.OK, "absent (not needed", Set.of()),
        Arguments.of("no nft", with(Builder::withoutNftAndBtf), "nft", Status.MISSING, "no nft binary", Set.of(Need.NFTABLES)),
        Arguments.of("no cni conf dir", with(b -> b.cni(noConf, bin)), "cni config dir", Status.WARNING,
            "/etc/cni/net.d does not exist (needed on a Kubernetes node only", Set.of(Need.CNI)),
        Arguments.of("cni conf dir without a network", with(b -> b.cni(Directory.of(Path.of("/etc/cni/net.d"),
            "README", "x.conf.bak"), bin)), "cni config dir", Status.WARNING, "has no network configuration yet",
            Set.of()),
        Arguments.of("conflist chosen by name", with(b -> b.cni(Directory.of(Path.of("/etc/cni/net.d"),
            "20-b.conflist", "10-a.conf"), bin)), "cni config dir", Status.OK, "chains into 10-a.conf", Set.of()),
        Arguments.of("no cni bin dir", with(b -> b.cni(Directory.of(Path.of("/etc/cni/net.d"), "1.conflist"),
            Directory.missing(Path.of("/opt/cni/bin")))), "cni bin dir", Status.WARNING,
            "/opt/cni/bin does not exist (needed on a Kubernetes node only", Set.of(Need.CNI)));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource
  void findings(String name, HostFacts facts, String check, Status status, String detail, Set<Need> blocks) {
    Finding f = HostCheck.decide(facts).findings().stream().filter(x -> x.check().equals(check)).findFirst()
        .orElseThrow();

    assertThat(f.status()).as(f.toString()).isEqualTo(status);
    assertThat(f.detail()).contains(detail);
    assertThat(f.blocks()).isEqualTo(blocks);
    assertThat(f.fix().isEmpty()).as("a fix exactly when not ok").isEqualTo(status == Status.OK);
  }

  @Test
  void withoutEbpfCaptureIsReadyWithTheNftablesFallbackNamingWhy() {
    HostCheck.Report report = HostCheck.decide(with(b -> b.mounts(V1_ONLY).libbpf("not found")));

    assertThat(report.ready()).isTrue();
    assertThat(report.ebpf()).isFalse();
    assertThat(report.lines()).last()
        .isEqualTo("capture: ready with the nftables fallback (eBPF unavailable: cgroup v2, libbpf)");
  }

  @Test
  void withoutNftOrCniCaptureIsNotReadyAndTheVerdictNamesWhatToFix() {
    HostCheck.Report report = HostCheck.decide(with(b -> b.withoutNftAndBtf().cni(Directory.missing(Path.of("/etc/cni/net.d")),
        Directory.of(Path.of("/opt/cni/bin"), "bridge"))));

    assertThat(report.ready()).isFalse();
    assertThat(report.lines()).last()
        .isEqualTo("capture: NOT ready on this host; fix: nft; a Kubernetes node also needs: cni config dir");
    assertThat(report.lines()).contains("missing  nft                no nft binary on the search path (nftables TPROXY "
        + "needs it)", " ".repeat(28) + "fix: apt-get install nftables (Debian/Ubuntu) or dnf install nftables (Fedora/RHEL)");
  }

  static Stream<Arguments> verdicts() {
    Directory noConf = Directory.missing(Path.of("/etc/cni/net.d"));
    Directory noBin = Directory.missing(Path.of("/opt/cni/bin"));
    return Stream.of(
        Arguments.of("everything in place", ready(), 0,
            "capture: ready (outbound by eBPF, inbound by nftables TPROXY)"),
        Arguments.of("no CNI folders (a host for up --netns, not a Kubernetes node)", with(b -> b.cni(noConf, noBin)), 0,
            "capture: ready (outbound by eBPF, inbound by nftables TPROXY); a Kubernetes node also needs: "
                + "cni config dir, cni bin dir"),
        Arguments.of("no eBPF and no CNI folders", with(b -> b.libbpf("not found").cni(noConf, noBin)), 0,
            "capture: ready with the nftables fallback (eBPF unavailable: libbpf); a Kubernetes node also needs: "
                + "cni config dir, cni bin dir"),
        Arguments.of("no nft", with(Builder::withoutNftAndBtf), 1, "capture: NOT ready on this host; fix: nft"),
        Arguments.of("kernel too old for TPROXY", with(b -> b.kernel("4.14.1")), 1,
            "capture: NOT ready on this host; fix: kernel"),
        Arguments.of("no CAP_NET_ADMIN", with(b -> b.caps(0, 0)), 1, "capture: NOT ready on this host; fix: privileges"),
        Arguments.of("kernel without nft TPROXY", with(b -> b.config(Optional.of(new KernelConfig("/boot/config-6.8",
            "CONFIG_NF_TABLES=y\n")))), 1, "capture: NOT ready on this host; fix: kernel config nft"));
  }

  /** {@code check --host} exits 1 only when capture cannot work on this host at all. */
  @ParameterizedTest(name = "{0}")
  @MethodSource
  void verdicts(String name, HostFacts facts, int exit, String verdict) {
    HostCheck.Report report = HostCheck.decide(facts);

    assertThat(report.exitCode()).isEqualTo(exit);
    assertThat(report.ready()).isEqualTo(exit == 0);
    assertThat(report.lines()).last().isEqualTo(verdict);
  }

  @Test
  void onThisMachineEveryCheckIsReportedAndTheKernelIsWhatUnameSays() throws Exception {
    Process uname = new ProcessBuilder("uname", "-r").start();
    String release = new String(uname.getInputStream().readAllBytes()).strip();
    uname.waitFor();

    HostFacts facts = HostFactsReader.fetch(Path.of("/etc/cni/net.d"), Path.of("/opt/cni/bin"));
    HostCheck.Report report = HostCheck.decide(facts);

    assertThat(facts.kernelRelease()).isEqualTo(release);
    assertThat(report.findings()).extracting(Finding::check).containsExactlyElementsOf(HostCheck.CHECKS);
    assertThat(report.lines()).anySatisfy(l -> assertThat(l).matches("(ok|missing) +kernel +\\Q" + release + "\\E.*"));
    assertThat(report.lines()).last().asString().startsWith("capture: ");
    assertThat(facts.mounts()).as("/proc/mounts was read").contains(" /proc ");
  }
}
