package dev.trellis.controlplane.translate;

import dev.trellis.xds.cache.Snapshot;
import dev.trellis.xds.resource.XdsResource;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Reuses translated resources across translations: a service's resources depend only on the service,
 * its traffic policy and route, the workloads it selects and a few mesh-wide settings; a workload's
 * resource only on the workload and the services selecting it. When those inputs are equal (records
 * compare by value), the previous resources are reused, so a one-endpoint change re-translates one
 * service instead of all of them. The output is identical to a cold translation.
 *
 * <p>Entries not used by the latest translation are dropped, so the cache never outgrows the mesh.
 * Not thread-safe: one translation at a time (the control plane translates on its config thread).
 */
public final class TranslationCache {

  private Map<HashedKey, Translated> previous = new HashMap<>();
  private Map<HashedKey, Translated> current = new HashMap<>();
  private long hits;
  private long misses;

  /**
   * What one entry holds: resources, and the variants proxyless clients and node proxies from before the compact
   * endpoint form get in place of some of them.
   */
  record Translated(List<XdsResource> resources, List<Snapshot.Variant> proxyless,
      List<Snapshot.Variant> legacyNodeProxy) {
    Translated {
      resources = List.copyOf(resources);
      proxyless = List.copyOf(proxyless);
      legacyNodeProxy = List.copyOf(legacyNodeProxy);
    }

    static Translated of(List<XdsResource> resources) {
      return new Translated(resources, List.of(), List.of());
    }
  }

  /** The resources for {@code key}: reused if the previous translation had them, else computed. */
  Translated get(Object key, Supplier<Translated> compute) {
    // A key is a deep record (a service with its workloads, a workload with its services): hash it once, not once for
    // the lookup and again for the put.
    HashedKey hashed = new HashedKey(key, key.hashCode());
    Translated cached = previous.get(hashed);
    if (cached != null) {
      hits++;
    } else {
      misses++;
      cached = compute.get();
    }
    current.put(hashed, cached);
    return cached;
  }

  /** A key with its hash code computed once. */
  private record HashedKey(Object key, int hash) {
    @Override
    public boolean equals(Object o) {
      return o instanceof HashedKey k && k.hash == hash && k.key.equals(key);
    }

    @Override
    public int hashCode() {
      return hash;
    }
  }

  /** Ends a translation: what it used is kept for the next, the rest is dropped. */
  void finish() {
    previous = current;
    current = new HashMap<>();
  }

  public long hits() {
    return hits;
  }

  public long misses() {
    return misses;
  }
}
