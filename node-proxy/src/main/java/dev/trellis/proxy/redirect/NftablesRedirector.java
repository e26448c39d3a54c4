package dev.trellis.proxy.redirect;

import dev.trellis.proxy.host.HostCommand;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * Redirection with nftables TPROXY, where eBPF is unavailable. One table, {@code inet trellis}, is set
 * up once ({@link #ensureBase}); it holds the captured pods' addresses in two sets (and their
 * {@link Exclusions}, as address-and-port and address-and-CIDR sets checked first) and a prerouting
 * chain that sends their TCP traffic to the node proxy: connections a pod opens to the outbound
 * listener (15001), HBONE to a pod's port 15008 to the HBONE server, other TCP to a pod to the
 * plaintext inbound listener (15006). Capturing or releasing a pod is adding or deleting set
 * elements: atomic, and idempotent by construction (a set holds an address once). The proxy's own
 * connections to pods leave through the output hook and are never redirected. TPROXY also needs the
 * policy route for the mark ({@link TproxyRouting}) and transparent listeners
 * ({@code CaptureServer.startTransparent}, epoll transport).
 */
public final class NftablesRedirector implements Redirector {

  public static final String TABLE = "trellis";
  public static final int MARK = 0x539;

  /** Runs an nft script (stdin of {@code nft -f -}); returns nft's exit status and its output. */
  public interface Nft {
    record Result(int exitCode, String output) {}

    Result run(String script) throws IOException;

    /** The real {@code nft}, optionally inside a network namespace ({@code ip netns exec NS nft ...}). */
    static Nft command(String netns) {
      return script -> {
        HostCommand.Result r = Commands.run(netns, List.of("nft", "-f", "-"), script);
        return new Result(r.exit(), r.output());
      };
    }
  }

  /** Where the node proxy listens for redirected traffic; {@code outbound} 0 leaves outbound to eBPF. */
  public record Ports(int outbound, int inbound, int hbone) {
    public static final Ports DEFAULTS = new Ports(15001, 15006, 15008);
    /** Inbound capture only (15006, 15008), beside eBPF outbound redirection. */
    public static final Ports INBOUND_ONLY = new Ports(0, 15006, 15008);
  }

  private final Nft nft;
  private final Ports ports;

  public NftablesRedirector(Nft nft, Ports ports) {
    this.nft = nft;
    this.ports = ports;
  }

  /**
   * The table, brought to the current rules in one transaction. Sets are created if missing and keep their
   * elements, so an agent restart never opens a window in which a captured pod is not captured; the chain
   * is flushed and refilled. With {@code Ports.outbound} 0 the outbound rules are left out (eBPF steers
   * outbound traffic; nftables then captures inbound only). Inbound capture takes only packets in the original
   * direction of their connection ({@code ct direction original}): replies to connections a pod opened itself —
   * excluded ports and CIDRs, or a passthrough connection the proxy dialed from inside the pod's namespace —
   * are addressed to the pod too, and a reply handed to the inbound listener would be answered with a reset.
   * Replies to the proxy's transparent sockets (dialed with a pod's address) match the first rule.
   */
  static String baseScript(Ports p) {
    String mark = "0x" + Integer.toHexString(MARK);
    String outbound = p.outbound() <= 0 ? "" : """
        add rule inet %1$s prerouting ip saddr @pods4 meta l4proto tcp tproxy ip to 127.0.0.1:%3$d meta mark set %2$s accept
        add rule inet %1$s prerouting ip6 saddr @pods6 meta l4proto tcp tproxy ip6 to [::1]:%3$d meta mark set %2$s accept
        """.formatted(TABLE, mark, p.outbound());
    return """
        add table inet %1$s
        add set inet %1$s pods4 { type ipv4_addr; }
        add set inet %1$s pods6 { type ipv6_addr; }
        add set inet %1$s excluded_ports4 { type ipv4_addr . inet_service; }
        add set inet %1$s excluded_ports6 { type ipv6_addr . inet_service; }
        add set inet %1$s excluded_cidrs4 { type ipv4_addr . ipv4_addr; flags interval; }
        add set inet %1$s excluded_cidrs6 { type ipv6_addr . ipv6_addr; flags interval; }
        add chain inet %1$s prerouting { type filter hook prerouting priority mangle; policy accept; }
        flush chain inet %1$s prerouting
        add rule inet %1$s prerouting meta l4proto tcp socket transparent 1 meta mark set %2$s accept
        add rule inet %1$s prerouting meta l4proto tcp ip saddr . tcp dport @excluded_ports4 accept
        add rule inet %1$s prerouting meta l4proto tcp ip6 saddr . tcp dport @excluded_ports6 accept
        add rule inet %1$s prerouting meta l4proto tcp ip saddr . ip daddr @excluded_cidrs4 accept
        add rule inet %1$s prerouting meta l4proto tcp ip6 saddr . ip6 daddr @excluded_cidrs6 accept
        %3$sadd rule inet %1$s prerouting ip daddr @pods4 tcp dport %5$d ct direction original tproxy ip to 127.0.0.1:%5$d meta mark set %2$s accept
        add rule inet %1$s prerouting ip6 daddr @pods6 tcp dport %5$d ct direction original tproxy ip6 to [::1]:%5$d meta mark set %2$s accept
        add rule inet %1$s prerouting ip daddr @pods4 meta l4proto tcp ct direction original tproxy ip to 127.0.0.1:%4$d meta mark set %2$s accept
        add rule inet %1$s prerouting ip6 daddr @pods6 meta l4proto tcp ct direction original tproxy ip6 to [::1]:%4$d meta mark set %2$s accept
        """.formatted(TABLE, mark, outbound, p.inbound(), p.hbone());
  }

  /** Sets the table up (again): call at agent start; pods captured before stay captured throughout. */
  public void ensureBase() throws IOException {
    check(nft.run(baseScript(ports)), "setting up table inet " + TABLE);
  }

  /** Removes the table: nothing of Trellis is left in the kernel. */
  public void removeAll() throws IOException {
    check(nft.run("table inet " + TABLE + " {}\ndelete table inet " + TABLE + "\n"), "removing table inet " + TABLE);
  }

  /** The set elements for a pod's addresses (and, with {@code exclusions}, its exclusions per address). */
  static String elements(String verb, Target t) {
    StringBuilder b = new StringBuilder();
    List<String> v4 = new ArrayList<>();
    List<String> v6 = new ArrayList<>();
    for (String ip : t.ips()) {
      (isV6(ip) ? v6 : v4).add(ip);
    }
    element(b, verb, "pods4", v4);
    element(b, verb, "pods6", v6);
    for (String ip : t.ips()) {
      String family = isV6(ip) ? "6" : "4";
      element(b, verb, "excluded_ports" + family, t.exclusions().ports().stream().map(p -> ip + " . " + p).toList());
      element(b, verb, "excluded_cidrs" + family, t.exclusions().cidrs().stream()
          .filter(c -> isV6(c.substring(0, c.indexOf('/'))) == isV6(ip)).map(c -> ip + " . " + c).toList());
    }
    return b.toString();
  }

  private static void element(StringBuilder b, String verb, String set, List<String> values) {
    if (!values.isEmpty()) {
      b.append(verb).append(" element inet ").append(TABLE).append(' ').append(set).append(" { ")
          .append(String.join(", ", values)).append(" }\n");
    }
  }

  private static boolean isV6(String ip) {
    try {
      return InetAddress.ofLiteral(ip) instanceof Inet6Address;
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("pod address '" + ip + "' is not an IP literal", e);
    }
  }

  @Override
  public void install(Target t) throws IOException {
    if (t.ips().isEmpty()) {
      throw new IOException("pod " + t.namespace() + "/" + t.pod() + " has no address to capture");
    }
    // "add" of an element already in the set is no error and adds nothing.
    check(nft.run(elements("add", t)), "capturing " + t.namespace() + "/" + t.pod());
  }

  @Override
  public void remove(Target t) throws IOException {
    for (String ip : t.ips()) {
      Target one = new Target(t.containerId(), t.netns(), t.namespace(), t.pod(), List.of(ip), t.exclusions());
      Target address = new Target(t.containerId(), t.netns(), t.namespace(), t.pod(), List.of(ip));
      if (!present(address)) {
        continue;
      }
      // The address and its exclusions went in together and leave together (one transaction); if the
      // exclusions are not all there any more, the address goes alone and each exclusion on its own.
      if (nft.run(elements("delete", one)).exitCode() != 0) {
        check(nft.run(elements("delete", address)), "releasing " + t.namespace() + "/" + t.pod());
        for (String line : elements("delete", one).split("\n")) {
          if (line.contains(" excluded_")) {
            nft.run(line + "\n");
          }
        }
      }
    }
  }

  @Override
  public boolean verify(Target t) throws IOException {
    for (String ip : t.ips()) {
      if (!present(new Target(t.containerId(), t.netns(), t.namespace(), t.pod(), List.of(ip)))) {
        return false;
      }
    }
    return !t.ips().isEmpty();
  }

  private boolean present(Target one) throws IOException {
    return nft.run(elements("get", one)).exitCode() == 0;
  }

  @Override
  public String name() {
    return "nftables";
  }

  private static void check(Nft.Result r, String what) throws IOException {
    if (r.exitCode() != 0) {
      throw new IOException(what + ": nft exited with " + r.exitCode() + ": " + r.output());
    }
  }
}
