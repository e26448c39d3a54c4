package dev.trellis.proxy.redirect;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node agent's choice of redirection and its one-time set-up. eBPF by default (cgroup programs steer
 * outbound connections; nftables TPROXY captures inbound — HBONE to a pod's port 15008 and plaintext to
 * its other ports), nftables TPROXY for both directions where eBPF is unavailable ({@code auto} says why in
 * the log) or when forced.
 */
public final class Redirection {

  private static final Logger log = LoggerFactory.getLogger(Redirection.class);
  public static final String DEFAULT_PINS = "/sys/fs/bpf/trellis";

  /** {@code --redirect}: auto (eBPF if it works here, else nftables), ebpf, nftables. */
  public enum Mode {
    AUTO, EBPF, NFTABLES;

    public static Mode parse(String s) {
      try {
        return valueOf(s.toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("'" + s + "' (expected: auto, ebpf or nftables)");
      }
    }
  }

  /**
   * @param proxyAddress the node proxy's address as pods reach it (eBPF rewrites outbound connects to it, port
   *     15001); required for eBPF
   * @param pins the bpffs directory of Trellis's pinned programs and maps
   */
  public record Settings(Mode mode, String proxyAddress, Path pins) {}

  private final Redirector redirector;
  private final String description;

  private Redirection(Redirector redirector, String description) {
    this.redirector = redirector;
    this.description = description;
  }

  /** Chooses and sets up redirection (idempotent: pods captured before stay captured). */
  public static Redirection open(Settings s) throws IOException {
    if (s.mode() == Mode.EBPF) {
      throw new IOException("--redirect ebpf: not available in this build");
    }
    new TproxyRouting(TproxyRouting.Ip.command(null)).install();
    NftablesRedirector nft = new NftablesRedirector(NftablesRedirector.Nft.command(null),
        NftablesRedirector.Ports.DEFAULTS);
    nft.ensureBase();
    return new Redirection(nft, "nftables TPROXY");
  }

  /** Removes everything Trellis installed on this node: nftables table, policy routing, eBPF pins. */
  public static void uninstall(Settings s) throws IOException {
    new NftablesRedirector(NftablesRedirector.Nft.command(null), NftablesRedirector.Ports.DEFAULTS).removeAll();
    new TproxyRouting(TproxyRouting.Ip.command(null)).remove();
  }

  public Redirector redirector() {
    return redirector;
  }

  /** Where pods' cgroups are found: the pods file's, else the kubelet's layout under the cgroup v2 mount. */
  public CgroupResolver cgroups(CgroupResolver explicit) {
    CgroupResolver kubelet = CgroupResolver.cgroup2Mount().map(CgroupResolver::kubelet).orElse(CgroupResolver.none());
    return (a, pod) -> explicit.find(a, pod).or(() -> kubelet.find(a, pod));
  }

  public String describe() {
    return description;
  }
}
