package dev.trellis.proxy.outbound;

import dev.trellis.proxy.state.EndpointSpec;
import java.net.InetSocketAddress;

/**
 * Where the HBONE tunnel to an endpoint is dialed. In local mode (no capture) at the endpoint's node
 * address, where that node's proxy listens. With capture at the pod's own address, port 15008, which the
 * destination node steers to its proxy (as Istio ambient peers expect). In both, a workload of this very
 * node goes straight to this proxy's own HBONE listener (with capture, traffic this proxy sends to a local
 * pod is never redirected back to it). Pure.
 *
 * @param port the HBONE port of peers (15008)
 * @param target whose address is dialed for endpoints of other nodes
 * @param localNode this node's name, or null when not known (then only endpoints' own addresses are used)
 * @param localHbone this proxy's own HBONE listener as it can dial it, or null when not known
 */
public record HboneDialing(int port, Target target, String localNode, InetSocketAddress localHbone) {

  /** Whose address a tunnel to another node's endpoint is dialed at. */
  public enum Target {
    /** The endpoint's node (local mode: every node proxy on its own address). */
    NODE,
    /** The pod itself (capture: the destination node steers the pod's 15008 to its proxy). */
    POD
  }

  /** Local mode: dial the endpoint's node (its address when the node is unknown). */
  public static HboneDialing nodeAddresses(int port) {
    return new HboneDialing(port, Target.NODE, null, null);
  }

  /** Local mode, knowing this node: its own workloads go to {@code localHbone}, this proxy's HBONE listener. */
  public static HboneDialing nodeAddresses(int port, String localNode, InetSocketAddress localHbone) {
    return new HboneDialing(port, Target.NODE, localNode, localHbone);
  }

  /** Capture: dial the pod's address; pods of {@code localNode} through {@code localHbone}. */
  public static HboneDialing podAddresses(int port, String localNode, InetSocketAddress localHbone) {
    if (localNode == null || localHbone == null) {
      throw new IllegalArgumentException("pod-address dialing needs this node's name and its HBONE listener");
    }
    return new HboneDialing(port, Target.POD, localNode, localHbone);
  }

  InetSocketAddress dial(EndpointSpec ep) {
    if (localHbone != null && localNode != null && localNode.equals(ep.node())) {
      return localHbone;
    }
    if (target == Target.NODE) {
      return new InetSocketAddress(ep.nodeAddress() != null ? ep.nodeAddress() : ep.address(), port);
    }
    return new InetSocketAddress(ep.address(), port);
  }
}
