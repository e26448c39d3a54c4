package dev.trellis.xds.cache;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.Message;
import dev.trellis.xds.resource.ClientKind;
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
 *
 * <p>A global resource may have a {@linkplain Variant variant} for one {@link ClientKind}: clients of that kind are
 * served the variant under the same name instead (e.g. a ring-hash cluster for proxyless gRPC where the others get
 * Maglev), with a note saying why, which {@code /debug/clients} shows.
 */
public final class Snapshot {

  private static final Snapshot EMPTY = new Snapshot(0, new EnumMap<>(ResourceType.class), new EnumMap<>(ResourceType.class),
      new EnumMap<>(ResourceType.class), new EnumMap<>(ResourceType.class));

  private final long version;
  private final Map<ResourceType, Map<String, XdsResource>> global;
  private final Map<ResourceType, Map<String, Map<String, XdsResource>>> byNode;
  private final Map<ResourceType, Map<ClientKind, Map<String, Variant>>> variants;
  /** Per type and kind with variants: the global resources with that kind's variants in place. */
  private final Map<ResourceType, Map<ClientKind, Map<String, XdsResource>>> variantViews;

  /**
   * What clients of one kind are served in place of the global resource of the same name.
   *
   * @param note why, for debug output (e.g. "RING_HASH instead of MAGLEV: proxyless gRPC rejects MAGLEV")
   */
  public record Variant(XdsResource resource, String note) {
    public Variant {
      requireNonNull(resource, "resource");
      requireNonNull(note, "note");
    }
  }

  private Snapshot(long version, Map<ResourceType, Map<String, XdsResource>> global,
      Map<ResourceType, Map<String, Map<String, XdsResource>>> byNode,
      Map<ResourceType, Map<ClientKind, Map<String, Variant>>> variants,
      Map<ResourceType, Map<ClientKind, Map<String, XdsResource>>> variantViews) {
    this.version = version;
    this.global = global;
    this.byNode = byNode;
    this.variants = variants;
    this.variantViews = variantViews;
  }

  public static Snapshot empty() {
    return EMPTY;
  }

  public static Builder builder() {
    return new Builder();
  }

  Snapshot withVersion(long v) {
    return new Snapshot(v, global, byNode, variants, variantViews);
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

  /**
   * As {@link #view(ResourceType, String)}, for a client of {@code kind}: with that kind's variants in place of the
   * global resources of the same name.
   */
  public Map<String, XdsResource> view(ResourceType type, String node, ClientKind kind) {
    Map<ClientKind, Map<String, XdsResource>> byKind = variantViews.get(type);
    if (byKind != null) {
      Map<String, XdsResource> v = byKind.get(kind);
      if (v != null) {
        return v;
      }
    }
    return view(type, node);
  }

  /** The variant of {@code name} clients of {@code kind} are served, or null when they get the global resource. */
  public Variant variant(ResourceType type, ClientKind kind, String name) {
    Map<ClientKind, Map<String, Variant>> byKind = variants.get(type);
    if (byKind == null) {
      return null;
    }
    return byKind.getOrDefault(kind, Map.of()).get(name);
  }

  /** The variants of {@code type} for clients of {@code kind}, by name. */
  public Map<String, Variant> variants(ResourceType type, ClientKind kind) {
    return variants.getOrDefault(type, Map.of()).getOrDefault(kind, Map.of());
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
    Map<ResourceType, Map<ClientKind, Set<String>>> variantChanges = new EnumMap<>(ResourceType.class);
    for (ResourceType type : ResourceType.values()) {
      Map<ClientKind, Map<String, Variant>> before = old.variants.getOrDefault(type, Map.of());
      Map<ClientKind, Map<String, Variant>> after = variants.getOrDefault(type, Map.of());
      Map<ClientKind, Set<String>> perKind = new EnumMap<>(ClientKind.class);
      for (ClientKind kind : ClientKind.values()) {
        Set<String> c = changedNames(versions(before.get(kind)), versions(after.get(kind)));
        if (!c.isEmpty()) {
          perKind.put(kind, c);
        }
      }
      if (!perKind.isEmpty()) {
        variantChanges.put(type, perKind);
      }
    }
    return new SnapshotDiff(globalChanges, nodeChanges, variantChanges);
  }

  private static Map<String, XdsResource> versions(Map<String, Variant> variants) {
    if (variants == null || variants.isEmpty()) {
      return Map.of();
    }
    Map<String, XdsResource> m = new HashMap<>();
    variants.forEach((name, v) -> m.put(name, v.resource()));
    return m;
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

  /**
   * Collects resources; rejects duplicate names within a type, types mixing global and node scope, and variants of
   * resources that are not global ones of the snapshot.
   */
  public static final class Builder {
    private final Map<ResourceType, Map<String, XdsResource>> global = new EnumMap<>(ResourceType.class);
    private final Map<ResourceType, Map<String, Map<String, XdsResource>>> byNode = new EnumMap<>(ResourceType.class);
    private final Map<ResourceType, Map<ClientKind, Map<String, Variant>>> variants = new EnumMap<>(ResourceType.class);

    /** Serves {@code variant} to clients of {@code kind} in place of the global resource of the same name. */
    public Builder addVariant(ClientKind kind, Variant variant) {
      XdsResource r = variant.resource();
      Map<String, Variant> m = variants.computeIfAbsent(r.type(), t -> new EnumMap<>(ClientKind.class))
          .computeIfAbsent(kind, k -> new HashMap<>());
      if (m.putIfAbsent(r.name(), variant) != null) {
        throw new IllegalArgumentException("duplicate " + kind.label() + " variant of " + r.type().shortName()
            + " resource '" + r.name() + "'");
      }
      return this;
    }

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
      Map<ResourceType, Map<ClientKind, Map<String, Variant>>> v = new EnumMap<>(ResourceType.class);
      Map<ResourceType, Map<ClientKind, Map<String, XdsResource>>> views = new EnumMap<>(ResourceType.class);
      variants.forEach((type, byKind) -> {
        Map<String, XdsResource> base = g.getOrDefault(type, Map.of());
        Map<ClientKind, Map<String, Variant>> kinds = new EnumMap<>(ClientKind.class);
        Map<ClientKind, Map<String, XdsResource>> kindViews = new EnumMap<>(ClientKind.class);
        byKind.forEach((kind, named) -> {
          Map<String, XdsResource> view = new HashMap<>(base);
          named.forEach((name, variant) -> {
            if (!base.containsKey(name)) {
              throw new IllegalArgumentException(kind.label() + " variant of " + type.shortName() + " resource '"
                  + name + "' has no global resource of that name to replace");
            }
            view.put(name, variant.resource());
          });
          kinds.put(kind, Collections.unmodifiableMap(new HashMap<>(named)));
          kindViews.put(kind, Collections.unmodifiableMap(view));
        });
        v.put(type, Collections.unmodifiableMap(kinds));
        views.put(type, Collections.unmodifiableMap(kindViews));
      });
      return new Snapshot(0, g, n, v, views);
    }
  }
}
