package dev.trellis.proxy.egress;

import java.net.InetAddress;
import java.util.Set;

/**
 * What the passthrough decision needs to know about this node, beside the mesh config: its own addresses
 * (refused as destinations for captured pods unless allowed) and whether eBPF-captured connections can be dialed
 * from inside the pod's network namespace ({@link Via#POD_NETNS}). A value: the dialer publishes a new one when
 * the node's addresses change.
 *
 * @param nodeAddresses every address of the node's interfaces and the node's configured address
 * @param podNetns whether {@link Via#POD_NETNS} works here (the agent's state file is known and setns is permitted)
 */
public record EgressFacts(Set<InetAddress> nodeAddresses, boolean podNetns) {

  /** Local mode: nothing captured, nothing to refuse by address. */
  public static final EgressFacts NONE = new EgressFacts(Set.of(), false);

  public EgressFacts {
    nodeAddresses = Set.copyOf(nodeAddresses);
  }
}
