package dev.trellis.ca.server;

import static java.util.Objects.requireNonNull;

import dev.trellis.ca.CaException;
import dev.trellis.ca.CaException.Reason;
import dev.trellis.mtls.identity.SpiffeId;

/**
 * Node authorization: a node proxy may obtain a workload identity only if a workload with that
 * identity runs on the proxy's own node. A compromised node can thus never mint identities of
 * workloads elsewhere.
 */
public final class NodeAuthorizer {

  private final WorkloadDirectory directory;

  public NodeAuthorizer(WorkloadDirectory directory) {
    this.directory = requireNonNull(directory, "directory");
  }

  /**
   * @throws CaException {@link Reason#NOT_AUTHORIZED} if no workload with {@code identity} runs on the caller's node
   */
  public void authorize(Caller caller, SpiffeId identity) {
    if (!directory.runsOn(identity, caller.node())) {
      throw new CaException(Reason.NOT_AUTHORIZED, "no workload with identity " + identity + " runs on node '"
          + caller.node() + "' (" + caller.principal() + "); a node proxy may obtain identities of its own node's "
          + "workloads only");
    }
  }
}
