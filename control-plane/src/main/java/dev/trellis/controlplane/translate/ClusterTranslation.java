package dev.trellis.controlplane.translate;

import com.google.protobuf.UInt32Value;
import dev.trellis.controlplane.model.Mesh;
import dev.trellis.controlplane.model.Service;
import dev.trellis.controlplane.model.ServicePort;
import dev.trellis.controlplane.model.TrafficPolicy;
import io.envoyproxy.envoy.config.cluster.v3.CircuitBreakers;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.cluster.v3.OutlierDetection;
import io.envoyproxy.envoy.type.v3.Percent;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** Service port + its traffic policy → an EDS {@link Cluster}. Pure. */
final class ClusterTranslation {

  static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);

  private ClusterTranslation() {}

  static Cluster cluster(Mesh mesh, Service service, ServicePort port, TrafficPolicy policy) {
    String fqdn = mesh.fqdn(service);
    String name = XdsNames.cluster(fqdn, port.port());
    Map<String, Object> meta = new LinkedHashMap<>();
    meta.put("service", fqdn);
    meta.put("port", port.port());
    meta.put("protocol", port.protocol().name().toLowerCase(Locale.ROOT));
    Cluster.Builder c = Cluster.newBuilder()
        .setName(name)
        .setType(Cluster.DiscoveryType.EDS)
        .setEdsClusterConfig(Cluster.EdsClusterConfig.newBuilder().setEdsConfig(Protos.ads()).setServiceName(name))
        .setConnectTimeout(Protos.duration(CONNECT_TIMEOUT))
        .setMetadata(Protos.metadata(meta));
    if (policy != null) {
      apply(c, policy);
    }
    return c.build();
  }

  private static void apply(Cluster.Builder c, TrafficPolicy policy) {
    if (policy.loadBalancer() != null) {
      c.setLbPolicy(switch (policy.loadBalancer().algorithm()) {
        case ROUND_ROBIN -> Cluster.LbPolicy.ROUND_ROBIN;
        case LEAST_REQUEST -> Cluster.LbPolicy.LEAST_REQUEST;
        case RING_HASH -> Cluster.LbPolicy.RING_HASH;
        case MAGLEV -> Cluster.LbPolicy.MAGLEV;
        case RANDOM -> Cluster.LbPolicy.RANDOM;
      });
    }
    TrafficPolicy.ConnectionPool pool = policy.connectionPool();
    TrafficPolicy.RetryBudget budget = policy.retryBudget();
    if (pool != null || budget != null) {
      CircuitBreakers.Thresholds.Builder t = CircuitBreakers.Thresholds.newBuilder();
      if (pool != null) {
        if (pool.maxConnections() != null) {
          t.setMaxConnections(UInt32Value.of(pool.maxConnections()));
        }
        if (pool.maxPendingRequests() != null) {
          t.setMaxPendingRequests(UInt32Value.of(pool.maxPendingRequests()));
        }
        if (pool.maxRequests() != null) {
          t.setMaxRequests(UInt32Value.of(pool.maxRequests()));
        }
        if (pool.maxRetries() != null) {
          t.setMaxRetries(UInt32Value.of(pool.maxRetries()));
        }
      }
      if (budget != null) {
        t.setRetryBudget(CircuitBreakers.Thresholds.RetryBudget.newBuilder()
            .setBudgetPercent(Percent.newBuilder().setValue(budget.percent()))
            .setMinRetryConcurrency(UInt32Value.of(budget.minConcurrency())));
      }
      c.setCircuitBreakers(CircuitBreakers.newBuilder().addThresholds(t));
    }
    TrafficPolicy.OutlierDetection od = policy.outlierDetection();
    if (od != null) {
      OutlierDetection.Builder o = OutlierDetection.newBuilder();
      if (od.consecutive5xx() != null) {
        o.setConsecutive5Xx(UInt32Value.of(od.consecutive5xx()));
      }
      if (od.interval() != null) {
        o.setInterval(Protos.duration(od.interval()));
      }
      if (od.baseEjectionTime() != null) {
        o.setBaseEjectionTime(Protos.duration(od.baseEjectionTime()));
      }
      if (od.maxEjectionPercent() != null) {
        o.setMaxEjectionPercent(UInt32Value.of(od.maxEjectionPercent()));
      }
      c.setOutlierDetection(o);
    }
  }

  /** Where traffic to destinations outside the mesh goes: to the address it was sent to. */
  static Cluster passthrough() {
    return Cluster.newBuilder().setName(XdsNames.PASSTHROUGH_CLUSTER)
        .setType(Cluster.DiscoveryType.ORIGINAL_DST)
        .setLbPolicy(Cluster.LbPolicy.CLUSTER_PROVIDED)
        .setConnectTimeout(Protos.duration(CONNECT_TIMEOUT))
        .build();
  }
}
