package dev.trellis.proxy.state;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Arrays;

/** An address prefix, e.g. 10.96.0.10/32. */
public record Cidr(byte[] network, int prefixLength) {

  public static Cidr of(String address, int prefixLength) {
    try {
      byte[] bytes = InetAddress.ofLiteral(address).getAddress();
      if (prefixLength < 0 || prefixLength > bytes.length * 8) {
        throw new IllegalArgumentException("prefix length " + prefixLength + " of " + address);
      }
      return new Cidr(bytes, prefixLength);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("not an address prefix: " + address + "/" + prefixLength + ": " + e.getMessage(), e);
    }
  }

  public boolean contains(InetAddress address) {
    byte[] a = address.getAddress();
    if (a.length != network.length) {
      return false;
    }
    int full = prefixLength / 8;
    for (int i = 0; i < full; i++) {
      if (a[i] != network[i]) {
        return false;
      }
    }
    int rest = prefixLength % 8;
    if (rest == 0) {
      return true;
    }
    int mask = (0xff << (8 - rest)) & 0xff;
    return (a[full] & mask) == (network[full] & mask);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Cidr c && c.prefixLength == prefixLength && Arrays.equals(c.network, network);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(network) * 31 + prefixLength;
  }

  @Override
  public String toString() {
    try {
      return InetAddress.getByAddress(network).getHostAddress() + "/" + prefixLength;
    } catch (UnknownHostException e) {
      return "?/" + prefixLength;
    }
  }
}
