package dev.trellis.proxy.redirect;

import dev.trellis.proxy.host.Mounts;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Supplier;
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

  /** A redirector used as it is, with nothing set up on the node (tests of what is built on redirection). */
  public static Redirection of(Redirector redirector, String description) {
    return new Redirection(redirector, description);
  }

  /** Chooses and sets up redirection (idempotent: pods captured before stay captured). */
  public static Redirection open(Settings s) throws IOException {
    Mode mode = choose(s.mode(), s.proxyAddress(), () -> EbpfRedirector.unavailableReason(s.pins()));
    new TproxyRouting(TproxyRouting.Ip.command(null)).install();
    if (mode == Mode.NFTABLES) {
      // Programs a previous eBPF agent pinned would redirect first: the modes never run together.
      EbpfRedirector.removeAll(s.pins());
      NftablesRedirector nft = new NftablesRedirector(NftablesRedirector.Nft.command(null),
          NftablesRedirector.Ports.DEFAULTS);
      nft.ensureBase();
      return new Redirection(nft, "nftables TPROXY");
    }
    if (s.proxyAddress() == null) {
      throw new IOException("--redirect ebpf needs --proxy-address (the node proxy's address as pods reach it)");
    }
    Inet4Address v4 = null;
    Inet6Address v6 = null;
    for (String a : s.proxyAddress().split(",")) {
      InetAddress ip;
      try {
        ip = InetAddress.ofLiteral(a.strip());
      } catch (IllegalArgumentException e) {
        throw new IOException("--proxy-address: '" + a + "' is not an IP address");
      }
      if (ip instanceof Inet4Address i4) {
        v4 = i4;
      } else {
        v6 = (Inet6Address) ip;
      }
    }
    if (v4 == null) {
      throw new IOException("--proxy-address needs the node proxy's IPv4 address (and optionally ,IPv6)");
    }
    EbpfRedirector ebpf = new EbpfRedirector(new EbpfRedirector.Config(v4, v6, OUTBOUND_PORT, s.pins()));
    NftablesRedirector inbound = new NftablesRedirector(NftablesRedirector.Nft.command(null),
        NftablesRedirector.Ports.INBOUND_ONLY);
    inbound.ensureBase();
    return new Redirection(new Both(ebpf, inbound), "eBPF outbound (pins " + s.pins() + "), nftables TPROXY inbound");
  }

  /**
   * The mechanism to use: a forced one as asked; {@code auto} eBPF when there is an address to redirect to and
   * the probe finds nothing wrong (it loads the programs without attaching them), else nftables, saying why.
   */
  static Mode choose(Mode requested, String proxyAddress, Supplier<Optional<String>> ebpfUnavailable) {
    if (requested != Mode.AUTO) {
      return requested;
    }
    Optional<String> why = proxyAddress == null ? Optional.of("no --proxy-address to redirect to") : ebpfUnavailable.get();
    why.ifPresent(reason -> log.warn("eBPF redirection is unavailable here ({}); using nftables TPROXY", reason));
    return why.isEmpty() ? Mode.EBPF : Mode.NFTABLES;
  }

  /** Removes everything Trellis installed on this node: nftables table, policy routing, eBPF pins. */
  public static void uninstall(Settings s) throws IOException {
    new NftablesRedirector(NftablesRedirector.Nft.command(null), NftablesRedirector.Ports.DEFAULTS).removeAll();
    new TproxyRouting(TproxyRouting.Ip.command(null)).remove();
    EbpfRedirector.removeAll(s.pins());
  }

  private static final int OUTBOUND_PORT = 15001;

  /** eBPF outbound and nftables inbound, installed and removed together for each pod. */
  private record Both(EbpfRedirector outbound, NftablesRedirector inbound) implements Redirector {
    @Override
    public void install(Target t) throws IOException {
      outbound.install(t);
      try {
        inbound.install(t);
      } catch (IOException | RuntimeException e) {
        outbound.remove(t);
        throw e;
      }
    }

    @Override
    public void remove(Target t) throws IOException {
      IOException first = null;
      for (Redirector r : new Redirector[] {outbound, inbound}) {
        try {
          r.remove(t);
        } catch (IOException e) {
          first = first == null ? e : first;
        }
      }
      if (first != null) {
        throw first;
      }
    }

    @Override
    public boolean verify(Target t) throws IOException {
      return outbound.verify(t) && inbound.verify(t);
    }

    @Override
    public String name() {
      return "ebpf";
    }
  }

  public Redirector redirector() {
    return redirector;
  }

  /** Where pods' cgroups are found: the pods file's, else the kubelet's layout under the cgroup v2 mount. */
  public CgroupResolver cgroups(CgroupResolver explicit) {
    CgroupResolver kubelet = Mounts.fetch().cgroup2().map(CgroupResolver::kubelet).orElse(CgroupResolver.none());
    return (a, pod) -> explicit.find(a, pod).or(() -> kubelet.find(a, pod));
  }

  public String describe() {
    return description;
  }
}
