package dev.trellis.proxy.redirect;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A captured pod's outbound traffic that bypasses the mesh, from its annotations:
 * {@code trellis.dev/exclude-outbound-ports: "5432,6379"} and
 * {@code trellis.dev/exclude-outbound-cidrs: "10.0.0.0/8, fd00::/8"}. Pure; bad values are refused with
 * the annotation and the value named (the pod is then not captured rather than captured wrongly).
 */
public record Exclusions(List<Integer> ports, List<String> cidrs) {

  public static final String PORTS = "trellis.dev/exclude-outbound-ports";
  public static final String CIDRS = "trellis.dev/exclude-outbound-cidrs";
  public static final Exclusions NONE = new Exclusions(List.of(), List.of());

  public Exclusions {
    ports = List.copyOf(ports);
    cidrs = List.copyOf(cidrs);
  }

  public static Exclusions of(Map<String, String> annotations) {
    List<Integer> ports = new ArrayList<>();
    for (String p : split(annotations.get(PORTS))) {
      int port;
      try {
        port = Integer.parseInt(p);
      } catch (NumberFormatException e) {
        port = -1;
      }
      if (port < 1 || port > 65535) {
        throw new IllegalArgumentException(PORTS + ": '" + p + "' is not a port (expected: 1..65535, comma-separated)");
      }
      ports.add(port);
    }
    List<String> cidrs = new ArrayList<>();
    for (String c : split(annotations.get(CIDRS))) {
      int slash = c.indexOf('/');
      try {
        InetAddress a = InetAddress.ofLiteral(slash < 0 ? c : c.substring(0, slash));
        int max = a.getAddress().length * 8;
        int len = slash < 0 ? max : Integer.parseInt(c.substring(slash + 1));
        if (len < 0 || len > max) {
          throw new IllegalArgumentException("prefix length");
        }
        cidrs.add(a.getHostAddress() + "/" + len);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(CIDRS + ": '" + c + "' is not a CIDR (expected e.g. 10.0.0.0/8 or fd00::/8)");
      }
    }
    return new Exclusions(ports, cidrs);
  }

  private static List<String> split(String value) {
    List<String> out = new ArrayList<>();
    if (value != null) {
      for (String s : value.split(",")) {
        if (!s.isBlank()) {
          out.add(s.strip());
        }
      }
    }
    return out;
  }
}
