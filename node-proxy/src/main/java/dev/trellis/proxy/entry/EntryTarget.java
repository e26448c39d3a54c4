package dev.trellis.proxy.entry;

import java.net.InetAddress;
import java.util.regex.Pattern;

/**
 * Where an entry client asks to go: an IP address or a host name (a service's name), and a port from 1 to 65535.
 * Parsing is strict, so that what the dispatcher sees is what the client's bytes unambiguously say: anything else is
 * refused by the entry (found by fuzzing: host names with any characters, unbracketed IPv6 and "+80" ports were passed
 * on).
 *
 * @param address the destination address, or null when the client named a host
 * @param name the host name, or null when the client gave an address
 */
record EntryTarget(InetAddress address, String name, int port) {

  /** DNS labels of 1-63 letters, digits, '-' and '_' (service names), dot-separated, at most 253 characters. */
  private static final Pattern HOST_NAME =
      Pattern.compile("(?=.{1,253}$)[A-Za-z0-9_-]{1,63}(\\.[A-Za-z0-9_-]{1,63})*\\.?");
  private static final Pattern IPV6 = Pattern.compile("[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*");

  /**
   * CONNECT's request target in authority form (RFC 9110 §9.3.6): {@code host:port} with an IPv4 address or a host
   * name, or {@code [IPv6]:port}; the port in decimal digits. Null if it is not one.
   */
  static EntryTarget ofAuthority(String authority) {
    int colon = authority.lastIndexOf(':');
    int port = colon < 0 ? -1 : port(authority.substring(colon + 1));
    if (port < 0) {
      return null;
    }
    String host = authority.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      String v6 = host.substring(1, host.length() - 1);
      return IPV6.matcher(v6).matches() ? literal(v6, port) : null;
    }
    if (host.indexOf(':') >= 0) {
      return null; // an IPv6 address needs its brackets, or the port is ambiguous
    }
    EntryTarget literal = literal(host, port);
    if (literal != null) {
      return literal;
    }
    return HOST_NAME.matcher(host).matches() ? new EntryTarget(null, host, port) : null;
  }

  /** A SOCKS5 host name (address type DOMAIN, read as ASCII by {@link SocksEntryHandler}) and port; null if unusable. */
  static EntryTarget ofName(String name, int port) {
    return port >= 1 && port <= 65535 && HOST_NAME.matcher(name).matches() ? new EntryTarget(null, name, port) : null;
  }

  /** An IP literal (as SOCKS5's IPv4/IPv6 address types decode) and port; null if either is not usable. */
  static EntryTarget ofAddress(String address, int port) {
    return port >= 1 && port <= 65535 ? literal(address, port) : null;
  }

  private static EntryTarget literal(String host, int port) {
    try {
      return new EntryTarget(InetAddress.ofLiteral(host), null, port);
    } catch (IllegalArgumentException notALiteral) {
      return null;
    }
  }

  /** 1 to 65535 in one to five decimal digits, else -1. */
  private static int port(String digits) {
    if (digits.isEmpty() || digits.length() > 5 || !digits.chars().allMatch(c -> c >= '0' && c <= '9')) {
      return -1;
    }
    int p = Integer.parseInt(digits);
    return p >= 1 && p <= 65535 ? p : -1;
  }
}
