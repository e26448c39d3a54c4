package dev.trellis.proxy.outbound;

import dev.trellis.proxy.state.EndpointSpec;
import java.net.InetSocketAddress;

/**
 * Where the HBONE tunnel to an endpoint is dialed. In local mode (no capture) at the endpoint's node
 * address, where that node's proxy listens. With capture at the pod's own address, port 15008, which the
 * destination node steers to its proxy (as Istio ambient peers expect) — except for a pod on this very
 * node: traffic this proxy sends to a local pod is never redirected back to it, so that tunnel goes
 * straight to this proxy's own HBONE listener. Pure.
 *
 * @param port the HBONE port of peers (15008)
 * @param localNode this node's name, with capture; null in local mode
 * @param localHbone this proxy's own HBONE listener as it can dial it, with capture; null in local mode
 */
public record HboneDialing(int port, String localNode, InetSocketAddress localHbone) {

  /** Local mode: dial the endpoint's node (its address when the node is unknown). */
  public static HboneDialing nodeAddresses(int port) {
    return new HboneDialing(port, null, null);
  }

  /** Capture: dial the pod's address; pods of {@code localNode} through {@code localHbone}. */
  public static HboneDialing podAddresses(int port, String localNode, InetSocketAddress localHbone) {
    if (localNode == null || localHbone == null) {
      throw new IllegalArgumentException("pod-address dialing needs this node's name and its HBONE listener");
    }
    return new HboneDialing(port, localNode, localHbone);
  }

  InetSocketAddress dial(EndpointSpec ep) {
    if (localHbone == null) {
      return new InetSocketAddress(ep.nodeAddress() != null ? ep.nodeAddress() : ep.address(), port);
    }
    return localNode.equals(ep.node()) ? localHbone : new InetSocketAddress(ep.address(), port);
  }
}
