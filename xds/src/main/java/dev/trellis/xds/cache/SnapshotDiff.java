package dev.trellis.xds.cache;

import dev.trellis.xds.resource.ResourceType;
import java.util.Map;
import java.util.Set;

/** Names that changed between two snapshots, per type: global ones, and node-scoped ones per node. */
public record SnapshotDiff(Map<ResourceType, Set<String>> global, Map<ResourceType, Map<String, Set<String>>> byNode) {

  /** Names of {@code type} whose resource changed for a client on {@code node} (null: anonymous). */
  public Set<String> changed(ResourceType type, String node) {
    Set<String> g = global.get(type);
    if (g != null) {
      return g;
    }
    Map<String, Set<String>> perNode = byNode.get(type);
    if (perNode == null || node == null) {
      return Set.of();
    }
    return perNode.getOrDefault(node, Set.of());
  }

  public boolean isEmpty() {
    return global.isEmpty() && byNode.isEmpty();
  }
}
