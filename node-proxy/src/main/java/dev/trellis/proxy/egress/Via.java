package dev.trellis.proxy.egress;

/**
 * How a passthrough connection (a destination that is no mesh service) leaves the node proxy, and so which
 * source address the destination sees. Chosen by {@code OutboundDecision}, dialed by {@link PassthroughDialer}.
 */
public enum Via {
  /**
   * From the node's own address, as any connection of the proxy: local mode, where clients name their
   * destination through the SOCKS5/CONNECT entry and no pod is captured.
   */
  NODE,
  /**
   * From a socket created inside the pod's network namespace (setns on the dialer's thread): it leaves through
   * the pod's own interface with the pod's address, so the CNI's policies for the pod and hop limits apply as if
   * the pod had dialed. For connections eBPF redirected (the proxy's socket is in the proxy's cgroup, which no
   * cgroup program of the pod's captures).
   */
  POD_NETNS,
  /**
   * From the node's namespace with the pod's address as source ({@code IP_TRANSPARENT}); replies come back through
   * the TPROXY chain's {@code socket transparent} rule and its policy route. For connections TPROXY captured (a
   * socket in the pod's namespace would be captured again on its way through the node), and for eBPF captures
   * where the proxy cannot enter pods' namespaces.
   */
  POD_ADDRESS
}
