package dev.trellis.proxy.inbound;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.proxy.refusal.Refusal;
import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.proxy.state.ProxyConfig;
import dev.trellis.proxy.tunnel.HboneNames;
import java.net.InetAddress;
import java.util.Set;

/**
 * What the HBONE server does with one request stream, decided from values only (no sockets), in the
 * order the checks must happen: not CONNECT → 400; authority not {@code ip:port} → 400; no local
 * workload at that ip → 400; that workload's identity is not the one the connection presented → 400;
 * one of the proxy's own ports → 400; authorization denied → 401;
 * otherwise connect to the workload (the I/O side answers 503 if that fails and 200 once it works).
 * {@link #plaintext} decides the same for a plaintext connection entering on the inbound port, where
 * the workload's mTLS mode applies first.
 */
public sealed interface InboundDecision {

  /** How much of the tunneled traffic the proxy must look at. */
  enum Inspection {
    /** Relay bytes: a port not declared HTTP, authorized as a whole. */
    NONE,
    /**
     * Parse HTTP (the port is declared http, http2 or grpc): every request is normalized, gets the identity headers
     * only the mesh sets, and is authorized when a policy names methods or paths.
     */
    HTTP
  }

  /** Connect to {@code address}:{@code port} of {@code target}. */
  record Forward(LocalWorkload target, String address, int port, Inspection inspection) implements InboundDecision {}

  /** Answer {@code status} and end the stream; {@code refusal} is the metric's reason. */
  record Reject(int status, Refusal refusal, String reason) implements InboundDecision {}

  /**
   * @param peer the verified caller
   * @param presented the identity whose certificate this HBONE connection presented (chosen by the dialed address
   *     in capture mode, by the TLS server name in local mode): the stream may reach only a workload with that
   *     identity — the one the caller verified — never another workload that happens to share the node
   */
  static InboundDecision decide(String method, String authority, SpiffeId peer, SpiffeId presented, ProxyConfig config,
      Set<Integer> ownPorts) {
    if (!"CONNECT".equals(method)) {
      return new Reject(400, Refusal.NOT_CONNECT, "method " + method + " is not accepted on the HBONE port "
          + "(expected CONNECT)");
    }
    HostPort hp = HostPort.parse(authority);
    if (hp == null) {
      return new Reject(400, Refusal.BAD_AUTHORITY, "authority '" + authority + "' is not <ip>:<port>");
    }
    LocalWorkload target = config.findLocal(hp.host());
    if (target != null && !target.identity().equals(presented)) {
      return new Reject(400, Refusal.IDENTITY_MISMATCH, "workload " + target.name() + " has identity "
          + target.identity() + ", but this connection presented " + (presented == null ? "no identity" : presented)
          + "; open a connection to " + target.identity() + " (TLS server name "
          + HboneNames.sni(target.identity()) + ") to reach it");
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
      return new Reject(400, Refusal.BAD_AUTHORITY, "destination " + address + ":" + port + " is not <ip>:<port>");
    }
    LocalWorkload target = config.findLocal(hp.host());
    if (target != null && target.mtls() == LocalWorkload.MtlsMode.STRICT) {
      return new Reject(403, Refusal.STRICT_MTLS, "workload " + target.name() + " accepts only mTLS (mode STRICT); plaintext from outside "
          + "the mesh is refused");
    }
    return toWorkload(hp, null, config, ownPorts);
  }

  private static InboundDecision toWorkload(HostPort hp, SpiffeId peer, ProxyConfig config, Set<Integer> ownPorts) {
    LocalWorkload target = config.findLocal(hp.host());
    if (target == null) {
      return new Reject(400, Refusal.NO_WORKLOAD, "no workload with address " + hp.host() + " runs on this node");
    }
    if (ownPorts.contains(hp.port())) {
      return new Reject(400, Refusal.PROXY_PORT, "port " + hp.port() + " belongs to the node proxy itself");
    }
    return switch (Authorization.evaluate(target.authorizations(), peer, hp.port(), null, null)) {
      case Authorization.Deny d -> new Reject(401, Refusal.DENIED, d.reason());
      case Authorization.Allow a -> new Forward(target, hp.host(), hp.port(),
          target.isHttpPort(hp.port()) ? Inspection.HTTP : Inspection.NONE);
      case Authorization.NeedsRequest n -> target.isHttpPort(hp.port())
          ? new Forward(target, hp.host(), hp.port(), Inspection.HTTP)
          : new Reject(401, Refusal.DENIED, "a policy of " + target.name() + " names HTTP methods or paths, but port " + hp.port()
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
        return new HostPort(InetAddress.ofLiteral(host).getHostAddress(), p);
      } catch (IllegalArgumentException e) {
        return null;
      }
    }

    private static boolean isIpLiteral(String host) {
      return host.matches("\\d{1,3}(\\.\\d{1,3}){3}") || (host.contains(":") && host.matches("[0-9a-fA-F:.]+"));
    }
  }
}
