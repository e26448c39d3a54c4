package dev.trellis.proxy.redirect;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The byte layouts of trellis_redirect.bpf.c's map keys and values, built and read here only (pure). Addresses
 * are 16 bytes, IPv4 as IPv4-mapped IPv6; ports in network order as the kernel's socket fields hold them;
 * the rest in the machine's order (x86-64: little-endian), padding zeroed.
 */
final class EbpfMaps {

  /** {@code struct addr_port}: 16-byte address, u16 port (network order), u16 padding. */
  static final int ADDR_PORT = 20;
  /** {@code struct config}: proxy_ip4, proxy_ip6[4], proxy_port, has_ip6. */
  static final int CONFIG = 28;
  static final int LPM4 = 8;
  static final int LPM6 = 20;

  private EbpfMaps() {}

  /** 16 bytes: the address, IPv4 mapped into IPv6. */
  static byte[] address16(InetAddress a) {
    byte[] raw = a.getAddress();
    if (raw.length == 16) {
      return raw;
    }
    byte[] m = new byte[16];
    m[10] = (byte) 0xff;
    m[11] = (byte) 0xff;
    System.arraycopy(raw, 0, m, 12, 4);
    return m;
  }

  static byte[] addrPort(InetSocketAddress a) {
    ByteBuffer b = ByteBuffer.allocate(ADDR_PORT);
    b.put(address16(a.getAddress()));
    b.order(ByteOrder.BIG_ENDIAN).putShort((short) a.getPort());
    return b.array();
  }

  /** Reads a {@code struct addr_port}; an IPv4-mapped address comes back as an {@link Inet4Address}. */
  static InetSocketAddress readAddrPort(byte[] b) {
    byte[] addr = Arrays.copyOf(b, 16);
    int port = ((b[16] & 0xff) << 8) | (b[17] & 0xff);
    try {
      boolean mapped = true;
      for (int i = 0; i < 10; i++) {
        mapped &= addr[i] == 0;
      }
      mapped &= addr[10] == (byte) 0xff && addr[11] == (byte) 0xff;
      InetAddress a = mapped ? InetAddress.getByAddress(Arrays.copyOfRange(addr, 12, 16))
          : Inet6Address.getByAddress(null, addr, -1);
      return new InetSocketAddress(a, port);
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException(e);
    }
  }

  /** {@code struct config} for the proxy's IPv4 address (and IPv6 one, may be null) and port. */
  static byte[] config(Inet4Address proxy4, Inet6Address proxy6, int port) {
    ByteBuffer b = ByteBuffer.allocate(CONFIG).order(ByteOrder.nativeOrder());
    b.put(proxy4.getAddress()); // network order, as user_ip4
    b.put(proxy6 == null ? new byte[16] : proxy6.getAddress());
    b.put((byte) (port >> 8)).put((byte) port).put((byte) 0).put((byte) 0); // network order in the low 16 bits
    b.putInt(proxy6 == null ? 0 : 1);
    return b.array();
  }

  /** The excluded-port key: u16 in host order. */
  static byte[] port(int port) {
    return ByteBuffer.allocate(2).order(ByteOrder.nativeOrder()).putShort((short) port).array();
  }

  /** An LPM trie key for a CIDR ("10.0.0.0/8", "fd00::/8"): u32 prefix length (host order), then the address. */
  static byte[] lpm(String cidr) {
    int slash = cidr.indexOf('/');
    InetAddress a = InetAddress.ofLiteral(cidr.substring(0, slash));
    int len = Integer.parseInt(cidr.substring(slash + 1));
    byte[] raw = a.getAddress();
    ByteBuffer b = ByteBuffer.allocate(4 + raw.length).order(ByteOrder.nativeOrder());
    b.putInt(len).put(raw);
    return b.array();
  }

  static boolean isV6(String cidr) {
    return InetAddress.ofLiteral(cidr.substring(0, cidr.indexOf('/'))) instanceof Inet6Address;
  }

  /** The keys of {@code orig_dst} whose source address is one of {@code ips}. */
  static List<byte[]> keysFrom(List<byte[]> keys, List<String> ips) {
    List<byte[]> out = new ArrayList<>();
    List<byte[]> addresses = ips.stream().map(ip -> address16(InetAddress.ofLiteral(ip))).toList();
    for (byte[] k : keys) {
      for (byte[] a : addresses) {
        if (Arrays.equals(k, 0, 16, a, 0, 16)) {
          out.add(k);
        }
      }
    }
    return out;
  }
}
