package dev.trellis.controlplane.translate;

import com.google.protobuf.Any;
import com.google.protobuf.UInt32Value;
import dev.trellis.controlplane.model.Mesh;
import dev.trellis.controlplane.model.Service;
import dev.trellis.controlplane.model.ServicePort;
import dev.trellis.controlplane.model.TrafficPolicy;
import dev.trellis.xds.cache.Snapshot;
import dev.trellis.xds.resource.ClientKind;
import dev.trellis.xds.resource.ResourceType;
import dev.trellis.xds.resource.XdsResource;
import io.envoyproxy.envoy.config.cluster.v3.CircuitBreakers;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.cluster.v3.OutlierDetection;
import io.envoyproxy.envoy.config.core.v3.Http1ProtocolOptions;
import io.envoyproxy.envoy.config.core.v3.Http2ProtocolOptions;
import io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions;
import io.envoyproxy.envoy.type.v3.Percent;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Service port + its traffic policy → an EDS {@link Cluster}, and the variant proxyless clients get where they reject
 * it ({@link #forProxyless}). Pure.
 */
final class ClusterTranslation {

  static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
  /** Envoy's key for a cluster's upstream HTTP protocol in {@code typed_extension_protocol_options}. */
  static final String HTTP_PROTOCOL_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

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
    HttpProtocolOptions options = protocolOptions(port.protocol());
    if (options != null) {
      c.putTypedExtensionProtocolOptions(HTTP_PROTOCOL_OPTIONS, Any.pack(options));
    }
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

  /**
   * How a client speaks to the port's endpoints, as Envoy reads it (and the node proxy, for the same CDS): the port's
   * declared protocol, explicitly — {@code http} HTTP/1.1, {@code http2} and {@code grpc} HTTP/2 with prior
   * knowledge — never the client's ({@code use_downstream_protocol_config}: no declared protocol asks for that, since
   * a workload that speaks only one protocol must get it whatever its callers speak). Null for {@code tcp}: no HTTP.
   */
  static HttpProtocolOptions protocolOptions(ServicePort.AppProtocol protocol) {
    HttpProtocolOptions.ExplicitHttpConfig.Builder explicit = HttpProtocolOptions.ExplicitHttpConfig.newBuilder();
    switch (protocol) {
      case HTTP -> explicit.setHttpProtocolOptions(Http1ProtocolOptions.getDefaultInstance());
      case HTTP2, GRPC -> explicit.setHttp2ProtocolOptions(Http2ProtocolOptions.getDefaultInstance());
      case TCP -> {
        return null;
      }
    }
    return HttpProtocolOptions.newBuilder().setExplicitHttpConfig(explicit).build();
  }

  /**
   * The cluster a {@link ClientKind#PROXYLESS} client is served in place of {@code cluster}, with why; null when it
   * gets {@code cluster} itself. gRPC NACKs a cluster whose load balancer it does not implement, and then never resolves
   * the service, so such a client gets the nearest one it does: ring hash for Maglev (both hash each request
   * consistently on the route's hash policy), round robin for random (both spread calls evenly, without affinity).
   * Envoy and node proxies get {@code cluster}.
   */
  static Snapshot.Variant forProxyless(Cluster cluster) {
    return switch (cluster.getLbPolicy()) {
      case MAGLEV -> new Snapshot.Variant(XdsResource.of(ResourceType.CLUSTER, cluster.toBuilder()
          .setLbPolicy(Cluster.LbPolicy.RING_HASH).clearMaglevLbConfig().build()),
          "RING_HASH instead of MAGLEV: proxyless gRPC rejects MAGLEV; both hash consistently on the route's hash policy");
      case RANDOM -> new Snapshot.Variant(XdsResource.of(ResourceType.CLUSTER, cluster.toBuilder()
          .setLbPolicy(Cluster.LbPolicy.ROUND_ROBIN).build()),
          "ROUND_ROBIN instead of RANDOM: proxyless gRPC rejects RANDOM; both spread calls evenly, without affinity");
      default -> null;
    };
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
