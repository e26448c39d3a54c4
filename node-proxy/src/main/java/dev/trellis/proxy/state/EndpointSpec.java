package dev.trellis.proxy.state;

import dev.trellis.mtls.identity.SpiffeId;

/**
 * One endpoint of a cluster.
 *
 * @param identity the workload's SPIFFE ID from EDS metadata; null for endpoints outside the mesh
 * @param inMesh whether to reach it over HBONE (mTLS) rather than plaintext
 * @param nodeAddress the address of the endpoint's node (local mode dials HBONE there); null if unknown
 * @param locality node name (sub_zone); shown in the config dump, not used for load balancing
 */
public record EndpointSpec(String address, int port, SpiffeId identity, String node, String nodeAddress, boolean inMesh,
    String workload, String locality, int weight) {

  /** The same workload on another port (a workload dialed by its own address, on the port the caller chose). */
  public EndpointSpec withPort(int otherPort) {
    return new EndpointSpec(address, otherPort, identity, node, nodeAddress, inMesh, workload, locality, weight);
  }

  public String hostPort() {
    return (address.contains(":") ? "[" + address + "]" : address) + ":" + port;
  }
}
