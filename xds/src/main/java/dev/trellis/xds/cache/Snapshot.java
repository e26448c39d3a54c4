package dev.trellis.xds.cache;

import com.google.protobuf.Message;
import dev.trellis.xds.resource.ResourceType;
import dev.trellis.xds.resource.XdsResource;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * An immutable, complete set of resources the control plane serves. Each type is either global
 * (every client may see it: clusters, endpoints, listeners, routes, secrets) or node-scoped (only
 * the proxy of that node sees it: workloads). {@link #version()} is assigned by the
 * {@link ConfigStore} when published and increases with each publication.
 */
public final class Snapshot {

  private static final Snapshot EMPTY = new Snapshot(0, new EnumMap<>(ResourceType.class), new EnumMap<>(ResourceType.class));

  private final long version;
  private final Map<ResourceType, Map<String, XdsResource>> global;
  private final Map<ResourceType, Map<String, Map<String, XdsResource>>> byNode;

  private Snapshot(long version, Map<ResourceType, Map<String, XdsResource>> global,
      Map<ResourceType, Map<String, Map<String, XdsResource>>> byNode) {
    this.version = version;
    this.global = global;
    this.byNode = byNode;
  }

  public static Snapshot empty() {
    return EMPTY;
  }

  public static Builder builder() {
    return new Builder();
  }

  Snapshot withVersion(long v) {
    return new Snapshot(v, global, byNode);
  }

  public long version() {
    return version;
  }

  /** Whether resources of {@code type} are node-scoped in this snapshot. */
  public boolean nodeScoped(ResourceType type) {
    return byNode.containsKey(type);
  }

  /**
   * The resources of {@code type} a client on {@code node} may see, by name. {@code node} is null for
   * a client with no node scope (anonymous), which sees global types only.
   */
  public Map<String, XdsResource> view(ResourceType type, String node) {
    Map<String, Map<String, XdsResource>> scoped = byNode.get(type);
    if (scoped != null) {
      return node == null ? Map.of() : scoped.getOrDefault(node, Map.of());
    }
    return global.getOrDefault(type, Map.of());
  }

  /** Every resource of {@code type}: the global ones, or those of all nodes. */
  public Map<String, XdsResource> all(ResourceType type) {
    Map<String, Map<String, XdsResource>> scoped = byNode.get(type);
    if (scoped == null) {
      return global.getOrDefault(type, Map.of());
    }
    Map<String, XdsResource> merged = new HashMap<>();
    scoped.values().forEach(merged::putAll);
    return merged;
  }

  /** Total number of resources. */
  public int size() {
    int n = 0;
    for (Map<String, XdsResource> m : global.values()) {
      n += m.size();
    }
    for (Map<String, Map<String, XdsResource>> m : byNode.values()) {
      for (Map<String, XdsResource> x : m.values()) {
        n += x.size();
      }
    }
    return n;
  }

  /** What changed from {@code old} to this snapshot: names added, updated or removed, per type and node. */
  public SnapshotDiff diffFrom(Snapshot old) {
    Map<ResourceType, Set<String>> globalChanges = new EnumMap<>(ResourceType.class);
    Map<ResourceType, Map<String, Set<String>>> nodeChanges = new EnumMap<>(ResourceType.class);
    for (ResourceType type : ResourceType.values()) {
      Set<String> changed = changedNames(old.global.getOrDefault(type, Map.of()), global.getOrDefault(type, Map.of()));
      if (!changed.isEmpty()) {
        globalChanges.put(type, changed);
      }
      Map<String, Map<String, XdsResource>> before = old.byNode.getOrDefault(type, Map.of());
      Map<String, Map<String, XdsResource>> after = byNode.getOrDefault(type, Map.of());
      Set<String> nodes = new HashSet<>(before.keySet());
      nodes.addAll(after.keySet());
      Map<String, Set<String>> perNode = new HashMap<>();
      for (String node : nodes) {
        Set<String> c = changedNames(before.getOrDefault(node, Map.of()), after.getOrDefault(node, Map.of()));
        if (!c.isEmpty()) {
          perNode.put(node, c);
        }
      }
      if (!perNode.isEmpty()) {
        nodeChanges.put(type, perNode);
      }
    }
    return new SnapshotDiff(globalChanges, nodeChanges);
  }

  private static Set<String> changedNames(Map<String, XdsResource> before, Map<String, XdsResource> after) {
    Set<String> changed = new HashSet<>();
    for (Map.Entry<String, XdsResource> e : after.entrySet()) {
      XdsResource was = before.get(e.getKey());
      if (was == null || !was.version().equals(e.getValue().version())) {
        changed.add(e.getKey());
      }
    }
    for (String name : before.keySet()) {
      if (!after.containsKey(name)) {
        changed.add(name);
      }
    }
    return changed;
  }

  /** Collects resources; rejects duplicate names within a type and types mixing global and node scope. */
  public static final class Builder {
    private final Map<ResourceType, Map<String, XdsResource>> global = new EnumMap<>(ResourceType.class);
    private final Map<ResourceType, Map<String, Map<String, XdsResource>>> byNode = new EnumMap<>(ResourceType.class);

    public Builder add(ResourceType type, Message message) {
      if (byNode.containsKey(type)) {
        throw new IllegalArgumentException(type.shortName() + " resources are node-scoped in this snapshot; cannot add a global one");
      }
      put(global.computeIfAbsent(type, t -> new HashMap<>()), XdsResource.of(type, message));
      return this;
    }

    /** Adds an already built resource (a translation cache hit). */
    public Builder add(XdsResource resource) {
      if (byNode.containsKey(resource.type())) {
        throw new IllegalArgumentException(resource.type().shortName() + " resources are node-scoped in this snapshot");
      }
      put(global.computeIfAbsent(resource.type(), t -> new HashMap<>()), resource);
      return this;
    }

    public Builder addForNode(String node, XdsResource resource) {
      if (global.containsKey(resource.type())) {
        throw new IllegalArgumentException(resource.type().shortName() + " resources are global in this snapshot");
      }
      put(byNode.computeIfAbsent(resource.type(), t -> new HashMap<>()).computeIfAbsent(node, n -> new HashMap<>()), resource);
      return this;
    }

    public Builder addForNode(ResourceType type, String node, Message message) {
      if (global.containsKey(type)) {
        throw new IllegalArgumentException(type.shortName() + " resources are global in this snapshot; cannot add a node-scoped one");
      }
      put(byNode.computeIfAbsent(type, t -> new HashMap<>()).computeIfAbsent(node, n -> new HashMap<>()),
          XdsResource.of(type, message));
      return this;
    }

    private static void put(Map<String, XdsResource> map, XdsResource r) {
      if (map.putIfAbsent(r.name(), r) != null) {
        throw new IllegalArgumentException("duplicate " + r.type().shortName() + " resource name '" + r.name() + "'");
      }
    }

    public Snapshot build() {
      Map<ResourceType, Map<String, XdsResource>> g = new EnumMap<>(ResourceType.class);
      global.forEach((t, m) -> g.put(t, Collections.unmodifiableMap(m)));
      Map<ResourceType, Map<String, Map<String, XdsResource>>> n = new EnumMap<>(ResourceType.class);
      byNode.forEach((t, nodes) -> {
        Map<String, Map<String, XdsResource>> copy = new HashMap<>();
        nodes.forEach((node, m) -> copy.put(node, Collections.unmodifiableMap(m)));
        n.put(t, Collections.unmodifiableMap(copy));
      });
      return new Snapshot(0, g, n);
    }
  }
}
