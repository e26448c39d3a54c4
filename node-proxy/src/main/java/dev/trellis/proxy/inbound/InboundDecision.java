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
 * {@link #plaintext} decides the same for a plaintext connection entering on the inbound port, where
 * the workload's mTLS mode applies first.
 */
public sealed interface InboundDecision {

  /** How much of the tunneled traffic the proxy must look at. */
  enum Inspection {
    /** Relay bytes: the connection was authorized as a whole. */
    NONE,
    /** Parse HTTP and authorize every request (a policy names methods or paths). */
    HTTP
  }

  /** Connect to {@code address}:{@code port} of {@code target}. */
  record Forward(LocalWorkload target, String address, int port, Inspection inspection) implements InboundDecision {}

  /** Answer {@code status} and end the stream. */
  record Reject(int status, String reason) implements InboundDecision {}

  static InboundDecision decide(String method, String authority, SpiffeId peer, ProxyConfig config, Set<Integer> ownPorts) {
    if (!"CONNECT".equals(method)) {
      return new Reject(400, "method " + method + " is not accepted on the HBONE port (expected CONNECT)");
    }
    HostPort hp = HostPort.parse(authority);
    if (hp == null) {
      return new Reject(400, "authority '" + authority + "' is not <ip>:<port>");
    }
    return toWorkload(hp, peer, config, ownPorts);
  }

  /**
   * A plaintext connection for {@code address}:{@code port} (no peer identity): refused (403) when the
   * workload's mTLS mode is STRICT, else authorized as a caller without identity.
   */
  static InboundDecision plaintext(String address, int port, ProxyConfig config, Set<Integer> ownPorts) {
    HostPort hp = HostPort.parse((address.contains(":") ? "[" + address + "]" : address) + ":" + port);
    if (hp == null) {
      return new Reject(400, "destination " + address + ":" + port + " is not <ip>:<port>");
    }
    LocalWorkload target = config.findLocal(hp.host());
    if (target != null && target.mtls() == LocalWorkload.MtlsMode.STRICT) {
      return new Reject(403, "workload " + target.name() + " accepts only mTLS (mode STRICT); plaintext from outside "
          + "the mesh is refused");
    }
    return toWorkload(hp, null, config, ownPorts);
  }

  private static InboundDecision toWorkload(HostPort hp, SpiffeId peer, ProxyConfig config, Set<Integer> ownPorts) {
    LocalWorkload target = config.findLocal(hp.host());
    if (target == null) {
      return new Reject(400, "no workload with address " + hp.host() + " runs on this node");
    }
    if (ownPorts.contains(hp.port())) {
      return new Reject(400, "port " + hp.port() + " belongs to the node proxy itself");
    }
    return switch (Authorization.evaluate(target.authorizations(), peer, hp.port(), null, null)) {
      case Authorization.Deny d -> new Reject(401, d.reason());
      case Authorization.Allow a -> new Forward(target, hp.host(), hp.port(), Inspection.NONE);
      case Authorization.NeedsRequest n -> target.isHttpPort(hp.port())
          ? new Forward(target, hp.host(), hp.port(), Inspection.HTTP)
          : new Reject(401, "a policy of " + target.name() + " names HTTP methods or paths, but port " + hp.port()
              + " is not declared as an HTTP port of any service, so requests cannot be checked; denied");
    };
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
        if (!host.contains(":")) {
          return null; // brackets hold an IPv6 address only (RFC 3986 §3.2.2)
        }
      } else {
        int colon = authority.lastIndexOf(':');
        if (colon <= 0 || authority.indexOf(':') != colon) {
          return null;
        }
        host = authority.substring(0, colon);
        port = authority.substring(colon + 1);
      }
      if (port.isEmpty() || port.length() > 5 || !port.chars().allMatch(c -> c >= '0' && c <= '9')) {
        return null; // decimal digits only: Integer.parseInt would also take "+80"
      }
      int p = Integer.parseInt(port);
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
