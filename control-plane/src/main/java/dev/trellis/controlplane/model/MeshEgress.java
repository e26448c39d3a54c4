package dev.trellis.controlplane.model;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Arrays;
import java.util.List;

/**
 * Passthrough egress of captured pods (destinations that are no mesh service). Node proxies refuse captured pods'
 * connections to link-local addresses (169.254.0.0/16, fe80::/10: cloud metadata servers, node-local services) and
 * to the node's own addresses; {@code allowCidrs} names the ones they may reach anyway. The mesh file's
 * {@code egress} section, in a cluster the control plane's {@code --egress-allow-cidrs} (chart value
 * {@code egress.allowCidrs}); sent to node proxies on the outbound listener's passthrough chain.
 *
 * @param allowCidrs address prefixes, normalized ({@code 169.254.169.254/32}, {@code fd00:ec2::254/128})
 */
public record MeshEgress(List<String> allowCidrs) {

  /** Nothing allowed beyond the defaults. */
  public static final MeshEgress DEFAULTS = new MeshEgress(List.of());

  public MeshEgress {
    allowCidrs = allowCidrs.stream().map(MeshEgress::cidr).distinct().toList();
  }

  /**
   * An address prefix in normal form; a bare address is the prefix of that one address.
   *
   * @throws IllegalArgumentException what is wrong and what is expected
   */
  public static String cidr(String s) {
    String text = s == null ? "" : s.strip();
    int slash = text.indexOf('/');
    String address = slash < 0 ? text : text.substring(0, slash);
    byte[] bytes;
    try {
      if (!address.matches("[0-9a-fA-F:.]+") || (!address.contains(":") && !address.matches("\\d{1,3}(\\.\\d{1,3}){3}"))) {
        throw new IllegalArgumentException("not an IP address");
      }
      bytes = InetAddress.ofLiteral(address).getAddress();
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("'" + s + "' is not an address prefix (expected e.g. 169.254.169.254/32 or "
          + "fd00:ec2::254/128)");
    }
    int bits = bytes.length * 8;
    int length = bits;
    if (slash >= 0) {
      try {
        length = Integer.parseInt(text.substring(slash + 1));
      } catch (NumberFormatException e) {
        length = -1;
      }
      if (length < 0 || length > bits) {
        throw new IllegalArgumentException("'" + s + "': prefix length must be 0 to " + bits);
      }
    }
    byte[] network = bytes.clone();
    for (int i = 0; i < network.length; i++) {
      int keep = Math.max(0, Math.min(8, length - i * 8));
      network[i] &= (byte) (0xff << (8 - keep));
    }
    try {
      String normal = InetAddress.getByAddress(network).getHostAddress();
      if (!Arrays.equals(network, bytes)) {
        throw new IllegalArgumentException("'" + s + "' has host bits set (did you mean " + normal + "/" + length + "?)");
      }
      return InetAddress.getByAddress(bytes).getHostAddress() + "/" + length;
    } catch (UnknownHostException impossible) {
      throw new IllegalStateException(impossible);
    }
  }
}
