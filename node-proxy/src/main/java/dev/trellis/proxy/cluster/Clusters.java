package dev.trellis.proxy.cluster;

import dev.trellis.proxy.state.ClusterSpec;
import dev.trellis.proxy.state.EndpointSpec;
import dev.trellis.proxy.state.ProxyConfig;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Every cluster's run-time state, kept in step with the proxy config. {@link #apply} runs on the
 * control thread; lookups run on event loops. A cluster removed from the config disappears from
 * here at once; requests already using it keep their reference until they finish.
 */
public final class Clusters {

  private final Map<String, ClusterRuntime> clusters = new ConcurrentHashMap<>();

  public void apply(ProxyConfig config) {
    for (Map.Entry<String, ClusterSpec> e : config.clusters().entrySet()) {
      var endpoints = config.findEndpoints(e.getKey());
      clusters.compute(e.getKey(), (name, rt) -> {
        if (rt == null) {
          return new ClusterRuntime(e.getValue(), endpoints);
        }
        rt.update(e.getValue(), endpoints);
        return rt;
      });
    }
    clusters.keySet().retainAll(config.clusters().keySet());
  }

  /**
   * The cluster named by {@code spec}, created with {@code endpoints} if absent (clusters not from xDS); an existing
   * one takes {@code spec} when it differs (a workload port whose declared protocol changed).
   */
  public ClusterRuntime findOrCreate(ClusterSpec spec, List<EndpointSpec> endpoints) {
    ClusterRuntime found = clusters.get(spec.name());
    if (found != null && found.spec().equals(spec)) {
      return found;
    }
    return clusters.compute(spec.name(), (n, rt) -> {
      if (rt == null) {
        return new ClusterRuntime(spec, endpoints);
      }
      rt.update(spec, endpoints);
      return rt;
    });
  }

  /** The cluster's state, or null if the config has no such cluster. */
  public ClusterRuntime find(String name) {
    return clusters.get(name);
  }

  public Collection<ClusterRuntime> all() {
    return clusters.values();
  }
}
