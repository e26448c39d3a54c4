package dev.trellis.proxy.inbound;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.proxy.state.ProxyConfig;
import java.util.Set;

/**
 * What the HBONE server does with one request stream, decided from values only (no sockets), in the
 * order the checks must happen: not CONNECT → 400; authority not {@code ip:port} → 400; no local
 * workload at that ip → 400; one of the proxy's own ports → 400; authorization denied → 401;
 * otherwise connect to the workload (the I/O side answers 503 if that fails and 200 once it works).
 */
public sealed interface InboundDecision {

  /** Connect to {@code address}:{@code port} of {@code target}. */
  record Forward(LocalWorkload target, String address, int port) implements InboundDecision {}

  /** Answer {@code status} and end the stream. */
  record Reject(int status, String reason) implements InboundDecision {}

  static InboundDecision decide(String method, String authority, SpiffeId peer, ProxyConfig config, Set<Integer> ownPorts,
      InboundAuthorizer authorizer) {
    if (!"CONNECT".equals(method)) {
      return new Reject(400, "method " + method + " is not accepted on the HBONE port (expected CONNECT)");
    }
    HostPort hp = HostPort.parse(authority);
    if (hp == null) {
      return new Reject(400, "authority '" + authority + "' is not <ip>:<port>");
    }
    LocalWorkload target = config.findLocal(hp.host());
    if (target == null) {
      return new Reject(400, "no workload with address " + hp.host() + " runs on this node");
    }
    if (ownPorts.contains(hp.port())) {
      return new Reject(400, "port " + hp.port() + " belongs to the node proxy itself");
    }
    String denied = authorizer.deny(peer, target, hp.port());
    if (denied != null) {
      return new Reject(401, denied);
    }
    return new Forward(target, hp.host(), hp.port());
  }

  /** An IP literal and port, as HBONE's {@code :authority} carries them ({@code [v6]:port} for IPv6). */
  record HostPort(String host, int port) {
    static HostPort parse(String authority) {
      if (authority == null || authority.isEmpty()) {
        return null;
      }
      String host;
      String port;
      if (authority.startsWith("[")) {
        int close = authority.indexOf("]:");
        if (close < 0) {
          return null;
        }
        host = authority.substring(1, close);
        port = authority.substring(close + 2);
      } else {
        int colon = authority.lastIndexOf(':');
        if (colon <= 0 || authority.indexOf(':') != colon) {
          return null;
        }
        host = authority.substring(0, colon);
        port = authority.substring(colon + 1);
      }
      int p;
      try {
        p = Integer.parseInt(port);
      } catch (NumberFormatException e) {
        return null;
      }
      if (p < 1 || p > 65535 || !isIpLiteral(host)) {
        return null;
      }
      try {
        return new HostPort(java.net.InetAddress.ofLiteral(host).getHostAddress(), p);
      } catch (IllegalArgumentException e) {
        return null;
      }
    }

    private static boolean isIpLiteral(String host) {
      return host.matches("\\d{1,3}(\\.\\d{1,3}){3}") || (host.contains(":") && host.matches("[0-9a-fA-F:.]+"));
    }
  }
}
