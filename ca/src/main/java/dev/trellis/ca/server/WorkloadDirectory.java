package dev.trellis.ca.server;

import dev.trellis.mtls.identity.SpiffeId;

/**
 * Answers "does a workload with this identity run on this node?" for node authorization. Local mode
 * answers from the mesh file; Kubernetes from the pods informer.
 */
@FunctionalInterface
public interface WorkloadDirectory {
  boolean runsOn(SpiffeId identity, String node);
}
