package dev.trellis.proxy;

import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.proxy.http.HttpLimits;
import java.nio.file.Path;

/**
 * How a node proxy runs.
 *
 * @param node this node's name (the Node.id it presents to the control plane)
 * @param address the node's address; the health and metrics port listens there, and in local mode every port
 * @param controlPlane host:port of the control plane's xDS + CA port (15010 plaintext in local mode)
 * @param token the node's bearer token for the control plane
 * @param entryPort outbound entry: in local mode a SOCKS5 listener (15001); with capture the outbound capture listener
 * @param hbonePort HBONE server (15008); peers dial this port
 * @param adminPort health and metrics HTTP (15020), on {@code address}
 * @param debugAdminPort debug admin HTTP ({@code /config_dump}, {@code /clusters}, {@code /connections}; 15000), on
 *     loopback only: {@code address} when it is a loopback address (local mode), else 127.0.0.1 (or ::1)
 * @param inboundPort plaintext inbound (15006): in local mode a SOCKS5/CONNECT listener naming the workload; with
 *     capture the listener for plaintext redirected to a pod
 * @param capture whether pod traffic arrives redirected (transparent listeners) or through the explicit entry
 * @param tokenFile where {@code token} came from, read again when it changes (a rotated projected token), or null
 * @param controlPlaneCa the PEM root bundle the control plane's TLS certificate must chain to, or null for a
 *     plaintext channel (local mode)
 * @param agentState the node agent's state file (capture mode): where each captured pod's network namespace is
 *     found, so passthrough connections of eBPF-captured pods are dialed from inside it; null: from the node's
 *     namespace with the pod's address
 * @param httpLimits the HTTP engine's timeouts and size limits (null: {@link HttpLimits#DEFAULTS})
 */
public record NodeProxyOptions(String node, String address, String controlPlane, String token, TrustDomain trustDomain,
    int entryPort, int hbonePort, int adminPort, int inboundPort, Capture capture, Path tokenFile,
    Path controlPlaneCa, int debugAdminPort, Path agentState, HttpLimits httpLimits) {

  /** The debug admin port's default (Envoy's admin port in Istio). */
  public static final int DEBUG_ADMIN_PORT = 15000;

  /** How traffic reaches the proxy. */
  public enum Capture {
    /** Local mode: clients name their destination (SOCKS5 / HTTP CONNECT on the entry port). */
    NONE,
    /**
     * Redirected pod traffic (eBPF or nftables TPROXY): 15001, 15006 and 15008 listen on every address with
     * {@code IP_TRANSPARENT} (epoll transport), the original destination comes from the eBPF map or the
     * accepted socket's local address, and HBONE is dialed at pod addresses.
     */
    TRANSPARENT
  }

  public NodeProxyOptions {
    capture = capture == null ? Capture.NONE : capture;
    httpLimits = httpLimits == null ? HttpLimits.DEFAULTS : httpLimits;
  }

  public static NodeProxyOptions local(String node, String address, String controlPlane, String token) {
    return new NodeProxyOptions(node, address, controlPlane, token, TrustDomain.CLUSTER_LOCAL, 15001, 15008, 15020, 15006,
        Capture.NONE, null, null, DEBUG_ADMIN_PORT, null, null);
  }

  public NodeProxyOptions withPorts(int entry, int hbone, int admin) {
    return new NodeProxyOptions(node, address, controlPlane, token, trustDomain, entry, hbone, admin, inboundPort,
        capture, tokenFile, controlPlaneCa, debugAdminPort, agentState, httpLimits);
  }

  public NodeProxyOptions withInboundPort(int inbound) {
    return new NodeProxyOptions(node, address, controlPlane, token, trustDomain, entryPort, hbonePort, adminPort, inbound,
        capture, tokenFile, controlPlaneCa, debugAdminPort, agentState, httpLimits);
  }

  public NodeProxyOptions withCapture(Capture mode) {
    return new NodeProxyOptions(node, address, controlPlane, token, trustDomain, entryPort, hbonePort, adminPort,
        inboundPort, mode, tokenFile, controlPlaneCa, debugAdminPort, agentState, httpLimits);
  }

  /** TLS to the control plane, trusting the roots in {@code caFile} (null: plaintext). */
  public NodeProxyOptions withControlPlaneCa(Path caFile) {
    return new NodeProxyOptions(node, address, controlPlane, token, trustDomain, entryPort, hbonePort, adminPort,
        inboundPort, capture, tokenFile, caFile, debugAdminPort, agentState, httpLimits);
  }

  /** The debug admin port (0: any free port), on loopback. */
  public NodeProxyOptions withDebugAdminPort(int port) {
    return new NodeProxyOptions(node, address, controlPlane, token, trustDomain, entryPort, hbonePort, adminPort,
        inboundPort, capture, tokenFile, controlPlaneCa, port, agentState, httpLimits);
  }

  /** The token came from {@code file}: read it again whenever the file changes. */
  public NodeProxyOptions withTokenFile(Path file) {
    return new NodeProxyOptions(node, address, controlPlane, token, trustDomain, entryPort, hbonePort, adminPort,
        inboundPort, capture, file, controlPlaneCa, debugAdminPort, agentState, httpLimits);
  }

  /** The HTTP engine's timeouts and size limits. */
  public NodeProxyOptions withHttpLimits(HttpLimits limits) {
    return new NodeProxyOptions(node, address, controlPlane, token, trustDomain, entryPort, hbonePort, adminPort,
        inboundPort, capture, tokenFile, controlPlaneCa, debugAdminPort, agentState, limits);
  }

  /** Capture mode: pods' network namespaces are read from the node agent's state file {@code file}. */
  public NodeProxyOptions withAgentState(Path file) {
    return new NodeProxyOptions(node, address, controlPlane, token, trustDomain, entryPort, hbonePort, adminPort,
        inboundPort, capture, tokenFile, controlPlaneCa, debugAdminPort, file, httpLimits);
  }
}
