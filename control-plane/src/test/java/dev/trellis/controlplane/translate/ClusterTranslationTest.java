package dev.trellis.controlplane.translate;

import static dev.trellis.controlplane.translate.TranslationFixtures.GRPC_9090;
import static dev.trellis.controlplane.translate.TranslationFixtures.HTTP_80;
import static dev.trellis.controlplane.translate.TranslationFixtures.TCP_5432;
import static dev.trellis.controlplane.translate.TranslationFixtures.mesh;
import static dev.trellis.controlplane.translate.TranslationFixtures.ref;
import static dev.trellis.controlplane.translate.TranslationFixtures.service;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Any;
import com.google.protobuf.Duration;
import com.google.protobuf.Struct;
import com.google.protobuf.UInt32Value;
import com.google.protobuf.Value;
import dev.trellis.controlplane.model.Mesh;
import dev.trellis.controlplane.model.Service;
import dev.trellis.controlplane.model.ServicePort;
import dev.trellis.controlplane.model.ServicePort.AppProtocol;
import dev.trellis.controlplane.model.TrafficPolicy;
import dev.trellis.controlplane.model.TrafficPolicy.Algorithm;
import dev.trellis.controlplane.model.TrafficPolicy.ConnectionPool;
import dev.trellis.controlplane.model.TrafficPolicy.LoadBalancer;
import dev.trellis.controlplane.model.TrafficPolicy.OutlierDetection;
import dev.trellis.controlplane.model.TrafficPolicy.RetryBudget;
import dev.trellis.xds.cache.Snapshot;
import dev.trellis.xds.resource.XdsResource;
import io.envoyproxy.envoy.config.cluster.v3.CircuitBreakers;
import io.envoyproxy.envoy.config.cluster.v3.CircuitBreakers.Thresholds;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.AggregatedConfigSource;
import io.envoyproxy.envoy.config.core.v3.ApiVersion;
import io.envoyproxy.envoy.config.core.v3.ConfigSource;
import io.envoyproxy.envoy.config.core.v3.Http1ProtocolOptions;
import io.envoyproxy.envoy.config.core.v3.Http2ProtocolOptions;
import io.envoyproxy.envoy.config.core.v3.Metadata;
import io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions;
import io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions.ExplicitHttpConfig;
import io.envoyproxy.envoy.type.v3.Percent;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** {@link ClusterTranslation}: service port + traffic policy → the whole expected {@link Cluster}, one row per decision. */
class ClusterTranslationTest {

  static final Service WEB = service("web", "10.96.0.10", HTTP_80, GRPC_9090, TCP_5432);
  static final Mesh MESH = mesh(List.of(WEB), List.of(), List.of());
  static final String NAME = "outbound|80||web.demo.svc.cluster.local";

  /**
   * What every cluster of port 80 is without a policy: EDS over ADS under its own name, 5 s connect timeout, HTTP/1.1 to
   * its endpoints (the port is declared http).
   */
  static Cluster.Builder base() {
    return Cluster.newBuilder().setName(NAME).setType(Cluster.DiscoveryType.EDS)
        .setEdsClusterConfig(Cluster.EdsClusterConfig.newBuilder().setServiceName(NAME).setEdsConfig(
            ConfigSource.newBuilder().setAds(AggregatedConfigSource.getDefaultInstance())
                .setResourceApiVersion(ApiVersion.V3)))
        .setConnectTimeout(Duration.newBuilder().setSeconds(5))
        .setMetadata(metadata("web.demo.svc.cluster.local", "80", "http"))
        .putTypedExtensionProtocolOptions("envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
            Any.pack(HttpProtocolOptions.newBuilder().setExplicitHttpConfig(ExplicitHttpConfig.newBuilder()
                .setHttpProtocolOptions(Http1ProtocolOptions.getDefaultInstance())).build()));
  }

  static Metadata metadata(String service, String port, String protocol) {
    return Metadata.newBuilder().putFilterMetadata("trellis", Struct.newBuilder()
        .putFields("service", Value.newBuilder().setStringValue(service).build())
        .putFields("port", Value.newBuilder().setStringValue(port).build())
        .putFields("protocol", Value.newBuilder().setStringValue(protocol).build()).build()).build();
  }

  static TrafficPolicy policy(LoadBalancer lb, ConnectionPool pool, OutlierDetection od, RetryBudget budget) {
    return new TrafficPolicy("p", "demo", ref("web"), lb, pool, od, budget);
  }

  record Case(String name, TrafficPolicy policy, UnaryOperator<Cluster.Builder> expected) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Stream<Case> policies() {
    return Stream.of(
        new Case("no policy: Envoy's defaults", null, c -> c),
        new Case("an empty policy changes nothing", policy(null, null, null, null), c -> c),
        new Case("round robin", policy(new LoadBalancer(Algorithm.ROUND_ROBIN, null), null, null, null),
            c -> c.setLbPolicy(Cluster.LbPolicy.ROUND_ROBIN)),
        new Case("least request", policy(new LoadBalancer(Algorithm.LEAST_REQUEST, null), null, null, null),
            c -> c.setLbPolicy(Cluster.LbPolicy.LEAST_REQUEST)),
        new Case("ring hash (the hash header goes on the route, not here)",
            policy(new LoadBalancer(Algorithm.RING_HASH, "x-user"), null, null, null),
            c -> c.setLbPolicy(Cluster.LbPolicy.RING_HASH)),
        new Case("maglev", policy(new LoadBalancer(Algorithm.MAGLEV, null), null, null, null),
            c -> c.setLbPolicy(Cluster.LbPolicy.MAGLEV)),
        new Case("random", policy(new LoadBalancer(Algorithm.RANDOM, null), null, null, null),
            c -> c.setLbPolicy(Cluster.LbPolicy.RANDOM)),
        new Case("a connection pool sets only the thresholds it names",
            policy(null, new ConnectionPool(null, 100, 1000, null), null, null),
            c -> c.setCircuitBreakers(CircuitBreakers.newBuilder().addThresholds(Thresholds.newBuilder()
                .setMaxPendingRequests(UInt32Value.of(100)).setMaxRequests(UInt32Value.of(1000))))),
        new Case("every connection pool threshold", policy(null, new ConnectionPool(10, 20, 30, 3), null, null),
            c -> c.setCircuitBreakers(CircuitBreakers.newBuilder().addThresholds(Thresholds.newBuilder()
                .setMaxConnections(UInt32Value.of(10)).setMaxPendingRequests(UInt32Value.of(20))
                .setMaxRequests(UInt32Value.of(30)).setMaxRetries(UInt32Value.of(3))))),
        new Case("a retry budget alone is a threshold too", policy(null, null, null, new RetryBudget(20.0, 3)),
            c -> c.setCircuitBreakers(CircuitBreakers.newBuilder().addThresholds(Thresholds.newBuilder()
                .setRetryBudget(Thresholds.RetryBudget.newBuilder().setBudgetPercent(Percent.newBuilder().setValue(20.0))
                    .setMinRetryConcurrency(UInt32Value.of(3)))))),
        new Case("pool and budget share one threshold set",
            policy(null, new ConnectionPool(null, null, null, 5), null, new RetryBudget(10.0, 1)),
            c -> c.setCircuitBreakers(CircuitBreakers.newBuilder().addThresholds(Thresholds.newBuilder()
                .setMaxRetries(UInt32Value.of(5))
                .setRetryBudget(Thresholds.RetryBudget.newBuilder().setBudgetPercent(Percent.newBuilder().setValue(10.0))
                    .setMinRetryConcurrency(UInt32Value.of(1)))))),
        new Case("outlier detection sets only what it names",
            policy(null, null, new OutlierDetection(5, null, null, null), null),
            c -> c.setOutlierDetection(io.envoyproxy.envoy.config.cluster.v3.OutlierDetection.newBuilder()
                .setConsecutive5Xx(UInt32Value.of(5)))),
        new Case("every outlier detection field",
            policy(null, null, new OutlierDetection(3, java.time.Duration.ofSeconds(10),
                java.time.Duration.ofMillis(1500), 50), null),
            c -> c.setOutlierDetection(io.envoyproxy.envoy.config.cluster.v3.OutlierDetection.newBuilder()
                .setConsecutive5Xx(UInt32Value.of(3)).setInterval(Duration.newBuilder().setSeconds(10))
                .setBaseEjectionTime(Duration.newBuilder().setSeconds(1).setNanos(500_000_000))
                .setMaxEjectionPercent(UInt32Value.of(50)))));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("policies")
  void aPolicyBecomesTheClustersLbPolicyCircuitBreakersAndOutlierDetection(Case c) {
    assertThat(ClusterTranslation.cluster(MESH, WEB, HTTP_80, c.policy())).isEqualTo(c.expected().apply(base()).build());
  }

  static Stream<Object[]> proxylessLoadBalancers() {
    return Stream.of(new Object[] {null, Cluster.LbPolicy.ROUND_ROBIN},
        new Object[] {Algorithm.ROUND_ROBIN, Cluster.LbPolicy.ROUND_ROBIN},
        new Object[] {Algorithm.LEAST_REQUEST, Cluster.LbPolicy.LEAST_REQUEST},
        new Object[] {Algorithm.RING_HASH, Cluster.LbPolicy.RING_HASH},
        new Object[] {Algorithm.MAGLEV, Cluster.LbPolicy.RING_HASH},
        new Object[] {Algorithm.RANDOM, Cluster.LbPolicy.ROUND_ROBIN});
  }

  /** Each algorithm × kind of client: the load balancer it is served; the rest of the cluster is the same for all. */
  @ParameterizedTest(name = "{0} -> proxyless {1}")
  @MethodSource("proxylessLoadBalancers")
  void proxylessClientsGetALoadBalancerGrpcImplements(Algorithm algorithm, Cluster.LbPolicy proxyless) {
    TrafficPolicy policy = algorithm == null ? null : policy(new LoadBalancer(algorithm, null), null, null, null);
    Cluster cluster = ClusterTranslation.cluster(MESH, WEB, HTTP_80, policy);
    Snapshot.Variant variant = ClusterTranslation.forProxyless(cluster);
    Cluster served = variant == null ? cluster : (Cluster) unpack(variant.resource());
    assertThat(served.getLbPolicy()).isEqualTo(proxyless);
    assertThat(served.toBuilder().setLbPolicy(cluster.getLbPolicy()).build()).isEqualTo(cluster);
    if (proxyless == cluster.getLbPolicy()) {
      assertThat(variant).as("no variant where the client gets what Envoy gets").isNull();
    } else {
      assertThat(variant.note()).contains(proxyless.name()).contains(cluster.getLbPolicy().name());
    }
  }

  private static Object unpack(XdsResource r) {
    try {
      return r.body().unpack(Cluster.class);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  static Stream<Object[]> ports() {
    return Stream.of(new Object[] {HTTP_80, "outbound|80||web.demo.svc.cluster.local", "http"},
        new Object[] {GRPC_9090, "outbound|9090||web.demo.svc.cluster.local", "grpc"},
        new Object[] {TCP_5432, "outbound|5432||web.demo.svc.cluster.local", "tcp"});
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("ports")
  void eachPortIsItsOwnClusterNamedAsIstioDoesWithItsProtocolInTheMetadata(ServicePort port, String name,
      String protocol) {
    Cluster c = ClusterTranslation.cluster(MESH, WEB, port, null);
    assertThat(c.getName()).isEqualTo(name);
    assertThat(c.getEdsClusterConfig().getServiceName()).isEqualTo(name);
    assertThat(c.getMetadata()).isEqualTo(metadata("web.demo.svc.cluster.local", Integer.toString(port.port()), protocol));
  }

  static Stream<Object[]> protocols() {
    HttpProtocolOptions h1 = HttpProtocolOptions.newBuilder().setExplicitHttpConfig(ExplicitHttpConfig.newBuilder()
        .setHttpProtocolOptions(Http1ProtocolOptions.getDefaultInstance())).build();
    HttpProtocolOptions h2 = HttpProtocolOptions.newBuilder().setExplicitHttpConfig(ExplicitHttpConfig.newBuilder()
        .setHttp2ProtocolOptions(Http2ProtocolOptions.getDefaultInstance())).build();
    return Stream.of(new Object[] {AppProtocol.HTTP, h1}, new Object[] {AppProtocol.HTTP2, h2},
        new Object[] {AppProtocol.GRPC, h2}, new Object[] {AppProtocol.TCP, null});
  }

  /** Envoy and proxyless clients read the same field the node proxy reads; nothing follows the client's protocol. */
  @ParameterizedTest(name = "{0}")
  @MethodSource("protocols")
  void thePortsDeclaredProtocolIsTheClustersExplicitUpstreamProtocol(AppProtocol protocol, HttpProtocolOptions expected)
      throws Exception {
    Cluster c = ClusterTranslation.cluster(MESH, WEB, new ServicePort("p", 81, 8081, protocol), null);
    if (expected == null) {
      assertThat(c.getTypedExtensionProtocolOptionsMap()).as("a TCP port has no HTTP options").isEmpty();
      return;
    }
    assertThat(c.getTypedExtensionProtocolOptionsMap()).containsOnlyKeys(
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions");
    HttpProtocolOptions got = c.getTypedExtensionProtocolOptionsOrThrow(
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions").unpack(HttpProtocolOptions.class);
    assertThat(got).isEqualTo(expected);
    assertThat(got.hasUseDownstreamProtocolConfig()).isFalse();
  }

  @Test
  void passthroughDialsTheOriginalDestination() {
    assertThat(ClusterTranslation.passthrough()).isEqualTo(Cluster.newBuilder().setName("PassthroughCluster")
        .setType(Cluster.DiscoveryType.ORIGINAL_DST).setLbPolicy(Cluster.LbPolicy.CLUSTER_PROVIDED)
        .setConnectTimeout(Duration.newBuilder().setSeconds(5)).build());
  }
}
