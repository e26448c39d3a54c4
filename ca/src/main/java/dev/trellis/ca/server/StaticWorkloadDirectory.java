package dev.trellis.ca.server;

import dev.trellis.mtls.identity.SpiffeId;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/** A fixed map of node → identities running there (local mode, tests). */
public final class StaticWorkloadDirectory implements WorkloadDirectory {

  private final Map<String, Set<SpiffeId>> identitiesByNode;

  public StaticWorkloadDirectory(Map<String, Set<SpiffeId>> identitiesByNode) {
    Map<String, Set<SpiffeId>> copy = new HashMap<>();
    identitiesByNode.forEach((node, ids) -> copy.put(node, Set.copyOf(ids)));
    this.identitiesByNode = Map.copyOf(copy);
  }

  @Override
  public boolean runsOn(SpiffeId identity, String node) {
    return identitiesByNode.getOrDefault(node, Set.of()).contains(identity);
  }
}
