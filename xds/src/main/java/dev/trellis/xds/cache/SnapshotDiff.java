package dev.trellis.xds.cache;

import dev.trellis.xds.resource.ClientKind;
import dev.trellis.xds.resource.ResourceType;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * Names that changed between two snapshots, per type: global ones, node-scoped ones per node, and the names whose
 * {@linkplain Snapshot.Variant variant} for a kind of client appeared, changed or went.
 */
public record SnapshotDiff(Map<ResourceType, Set<String>> global, Map<ResourceType, Map<String, Set<String>>> byNode,
    Map<ResourceType, Map<ClientKind, Set<String>>> variants) {

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

  /**
   * As {@link #changed(ResourceType, String)}, for a client of {@code kind}: also the names whose variant for that
   * kind changed. May name a resource that is, for this client, unchanged (a global change hidden by its variant).
   */
  public Set<String> changed(ResourceType type, String node, ClientKind kind) {
    Set<String> base = changed(type, node);
    Set<String> v = variants.getOrDefault(type, Map.of()).get(kind);
    if (v == null) {
      return base;
    }
    Set<String> both = new HashSet<>(base);
    both.addAll(v);
    return both;
  }

  public boolean isEmpty() {
    return global.isEmpty() && byNode.isEmpty() && variants.isEmpty();
  }
}
