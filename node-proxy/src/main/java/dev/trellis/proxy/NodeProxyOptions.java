package dev.trellis.proxy;

import dev.trellis.mtls.identity.TrustDomain;

/**
 * How a node proxy runs.
 *
 * @param node this node's name (the Node.id it presents to the control plane)
 * @param address the node's address; every port listens there
 * @param controlPlane host:port of the control plane's xDS + CA port (15010 plaintext in local mode)
 * @param token the node's bearer token for the control plane
 * @param entryPort outbound entry: in local mode a SOCKS5 listener (15001)
 * @param hbonePort HBONE server (15008); peers dial this port
 * @param adminPort admin HTTP (15020)
 * @param inboundPort plaintext inbound (15006): in local mode a SOCKS5/CONNECT listener naming the workload
 */
public record NodeProxyOptions(String node, String address, String controlPlane, String token, TrustDomain trustDomain,
    int entryPort, int hbonePort, int adminPort, int inboundPort) {

  public static NodeProxyOptions local(String node, String address, String controlPlane, String token) {
    return new NodeProxyOptions(node, address, controlPlane, token, TrustDomain.CLUSTER_LOCAL, 15001, 15008, 15020, 15006);
  }

  public NodeProxyOptions withPorts(int entry, int hbone, int admin) {
    return new NodeProxyOptions(node, address, controlPlane, token, trustDomain, entry, hbone, admin, inboundPort);
  }

  public NodeProxyOptions withInboundPort(int inbound) {
    return new NodeProxyOptions(node, address, controlPlane, token, trustDomain, entryPort, hbonePort, adminPort, inbound);
  }
}
