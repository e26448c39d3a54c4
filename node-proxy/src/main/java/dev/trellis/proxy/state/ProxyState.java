package dev.trellis.proxy.state;

import com.google.protobuf.Message;
import dev.trellis.mesh.v1.Workload;
import dev.trellis.xds.client.AdsClient;
import dev.trellis.xds.client.ResourceWatcher;
import dev.trellis.xds.resource.ResourceType;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The proxy's view of the control plane: the resources it watches through the {@link AdsClient},
 * turned into a new {@link ProxyConfig} after every change. Watcher callbacks run on the ADS
 * client's executor, so all mutable state here is confined to it; {@link #current()} is read
 * lock-free from any thread.
 */
public final class ProxyState {

  private static final Logger log = LoggerFactory.getLogger(ProxyState.class);
  public static final String OUTBOUND_LISTENER = "trellis-outbound";
  /** The types a node proxy watches; it is in sync once each has been answered. */
  public static final List<ResourceType> WATCHED = List.of(ResourceType.LISTENER, ResourceType.CLUSTER,
      ResourceType.ENDPOINT, ResourceType.ROUTE, ResourceType.WORKLOAD);

  private final Map<ResourceType, Map<String, Message>> resources = new EnumMap<>(ResourceType.class);
  private final List<Consumer<ProxyConfig>> listeners = new ArrayList<>();
  private volatile ProxyConfig current = ProxyConfig.EMPTY;
  private volatile Status lastError;
  private long version;

  /** Subscribes to everything a node proxy needs. */
  public void watch(AdsClient client) {
    client.watch(ResourceType.LISTENER, OUTBOUND_LISTENER, watcher(ResourceType.LISTENER));
    for (ResourceType t : List.of(ResourceType.CLUSTER, ResourceType.ENDPOINT, ResourceType.ROUTE, ResourceType.WORKLOAD)) {
      client.watch(t, "*", watcher(t));
    }
  }

  /** Called (on the ADS client's executor) after each new config. */
  public void addListener(Consumer<ProxyConfig> listener) {
    listeners.add(listener);
  }

  public ProxyConfig current() {
    return current;
  }

  /** The last time the control plane could not be reached, or null. */
  public Status lastError() {
    return lastError;
  }

  private ResourceWatcher<Message> watcher(ResourceType type) {
    return new ResourceWatcher<>() {
      @Override
      public void onChanged(String name, Message resource) {
        resources.computeIfAbsent(type, t -> new HashMap<>()).put(name, resource);
        rebuild();
      }

      @Override
      public void onRemoved(String name) {
        Map<String, Message> m = resources.get(type);
        if (m != null && m.remove(name) != null) {
          rebuild();
        }
      }

      @Override
      public void onResourceError(String name, String error) {
        log.warn("{} {} rejected, keeping the previous one: {}", type.shortName(), name, error);
      }

      @Override
      public void onAmbientError(Status status) {
        lastError = status;
      }
    };
  }

  @SuppressWarnings("unchecked")
  private <T extends Message> List<T> all(ResourceType type) {
    return new ArrayList<>((Collection<T>) resources.getOrDefault(type, Map.of()).values());
  }

  private void rebuild() {
    Listener outbound = (Listener) resources.getOrDefault(ResourceType.LISTENER, Map.of()).get(OUTBOUND_LISTENER);
    List<Cluster> clusters = all(ResourceType.CLUSTER);
    List<ClusterLoadAssignment> endpoints = all(ResourceType.ENDPOINT);
    List<RouteConfiguration> routes = all(ResourceType.ROUTE);
    List<Workload> workloads = all(ResourceType.WORKLOAD);
    current = ProxyConfigs.build(++version, outbound, clusters, endpoints, routes, workloads);
    for (Consumer<ProxyConfig> l : listeners) {
      try {
        l.accept(current);
      } catch (RuntimeException e) {
        log.error("config listener failed", e);
      }
    }
  }
}
