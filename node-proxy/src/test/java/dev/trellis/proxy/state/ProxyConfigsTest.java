package dev.trellis.proxy.state;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import com.google.protobuf.Any;
import com.google.protobuf.Struct;
import com.google.protobuf.UInt32Value;
import com.google.protobuf.Value;
import dev.trellis.mesh.v1.Workload;
import dev.trellis.proxy.route.RouteTable;
import io.envoyproxy.envoy.config.cluster.v3.CircuitBreakers;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.cluster.v3.OutlierDetection;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.CidrRange;
import io.envoyproxy.envoy.config.core.v3.HealthStatus;
import io.envoyproxy.envoy.config.core.v3.Http1ProtocolOptions;
import io.envoyproxy.envoy.config.core.v3.Http2ProtocolOptions;
import io.envoyproxy.envoy.config.core.v3.Locality;
import io.envoyproxy.envoy.config.core.v3.Metadata;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.Endpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.FilterChainMatch;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.HeaderMatcher;
import io.envoyproxy.envoy.config.route.v3.RetryPolicy;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteAction;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.RouteMatch;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;
import io.envoyproxy.envoy.config.route.v3.WeightedCluster;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.Rds;
import io.envoyproxy.envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy;
import io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import io.envoyproxy.envoy.type.v3.Percent;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

public class ProxyConfigsTest {

  static final String WEB = "outbound|80||web.d.svc.cluster.local";
  static final String DB = "outbound|5432||db.d.svc.cluster.local";

  static Listener outbound() {
    return Listener.newBuilder().setName("trellis-outbound")
        .addFilterChains(chain("web.d.svc.cluster.local:80", "10.96.0.10", 80, Any.pack(HttpConnectionManager.newBuilder()
            .setRds(Rds.newBuilder().setRouteConfigName("web.d.svc.cluster.local:80")).build())))
        .addFilterChains(chain("db.d.svc.cluster.local:5432", "10.96.0.11", 5432, Any.pack(TcpProxy.newBuilder().setCluster(DB).build())))
        .addFilterChains(chain("wide", "10.0.0.0", 80, Any.pack(TcpProxy.newBuilder().setCluster("wide").build()), 8))
        .build();
  }

  static FilterChain chain(String name, String address, int port, Any filter) {
    return chain(name, address, port, filter, 32);
  }

  static FilterChain chain(String name, String address, int port, Any filter, int prefix) {
    return FilterChain.newBuilder().setName(name)
        .setFilterChainMatch(FilterChainMatch.newBuilder()
            .addPrefixRanges(CidrRange.newBuilder().setAddressPrefix(address).setPrefixLen(UInt32Value.of(prefix)))
            .setDestinationPort(UInt32Value.of(port)))
        .addFilters(Filter.newBuilder().setName("f").setTypedConfig(filter)).build();
  }

  static ClusterLoadAssignment endpoints(String cluster) {
    Struct meta = Struct.newBuilder()
        .putFields("identity", Value.newBuilder().setStringValue("spiffe://cluster.local/ns/d/sa/web").build())
        .putFields("node", Value.newBuilder().setStringValue("node-2").build())
        .putFields("node_address", Value.newBuilder().setStringValue("127.0.2.1").build())
        .putFields("workload", Value.newBuilder().setStringValue("d/web-0").build())
        .putFields("in_mesh", Value.newBuilder().setBoolValue(true).build()).build();
    return ClusterLoadAssignment.newBuilder().setClusterName(cluster)
        .addEndpoints(LocalityLbEndpoints.newBuilder().setLocality(Locality.newBuilder().setSubZone("node-2"))
            .addLbEndpoints(LbEndpoint.newBuilder().setEndpoint(Endpoint.newBuilder().setAddress(Address.newBuilder()
                .setSocketAddress(SocketAddress.newBuilder().setAddress("127.0.2.10").setPortValue(8080))))
                .setHealthStatus(HealthStatus.HEALTHY)
                .setMetadata(Metadata.newBuilder().putFilterMetadata("trellis", meta)))
            .addLbEndpoints(LbEndpoint.newBuilder().setEndpoint(Endpoint.newBuilder().setAddress(Address.newBuilder()
                .setSocketAddress(SocketAddress.newBuilder().setAddress("192.0.2.7").setPortValue(8080)))))
            .addLbEndpoints(LbEndpoint.newBuilder().setHealthStatus(HealthStatus.UNHEALTHY).setEndpoint(Endpoint.newBuilder()
                .setAddress(Address.newBuilder().setSocketAddress(SocketAddress.newBuilder().setAddress("127.0.2.99")
                    .setPortValue(8080))))))
        .build();
  }

  static RouteConfiguration routes() {
    return RouteConfiguration.newBuilder().setName("web.d.svc.cluster.local:80")
        .addVirtualHosts(VirtualHost.newBuilder().setName("web").addDomains("web.d.svc.cluster.local")
            .addDomains("10.96.0.10:80")
            .addRoutes(Route.newBuilder().setName("api").setMatch(RouteMatch.newBuilder().setPrefix("/api")
                    .addHeaders(HeaderMatcher.newBuilder().setName("X-Canary")
                        .setStringMatch(StringMatcher.newBuilder().setExact("yes"))))
                .setRoute(RouteAction.newBuilder().setWeightedClusters(WeightedCluster.newBuilder()
                    .addClusters(WeightedCluster.ClusterWeight.newBuilder().setName(WEB).setWeight(UInt32Value.of(80)))
                    .addClusters(WeightedCluster.ClusterWeight.newBuilder().setName("canary").setWeight(UInt32Value.of(20))))
                    .setTimeout(com.google.protobuf.Duration.newBuilder().setSeconds(3))
                    .setRetryPolicy(RetryPolicy.newBuilder().setRetryOn("5xx,unavailable").setNumRetries(UInt32Value.of(2))
                        .addRetriableStatusCodes(503))))
            .addRoutes(Route.newBuilder().setName("all").setMatch(RouteMatch.newBuilder().setPrefix("/"))
                .setRoute(RouteAction.newBuilder().setCluster(WEB))))
        .build();
  }

  static Workload workload() {
    return Workload.newBuilder().setName("d/client-0").setNamespace("d").setIdentity("spiffe://cluster.local/ns/d/sa/client")
        .setNode("node-1").addAddresses("127.0.1.10").setInMesh(true).setMtlsMode(dev.trellis.mesh.v1.MtlsMode.STRICT)
        .build();
  }

  /** The config the tests share: web (HTTP, VIP 10.96.0.10:80) and db (TCP) services, one local workload. */
  public static ProxyConfig config() {
    Cluster web = Cluster.newBuilder().setName(WEB).setLbPolicy(Cluster.LbPolicy.LEAST_REQUEST)
        .setConnectTimeout(com.google.protobuf.Duration.newBuilder().setSeconds(2))
        .setCircuitBreakers(CircuitBreakers.newBuilder().addThresholds(CircuitBreakers.Thresholds.newBuilder()
            .setMaxRequests(UInt32Value.of(10)).setRetryBudget(CircuitBreakers.Thresholds.RetryBudget.newBuilder()
                .setBudgetPercent(Percent.newBuilder().setValue(20)))))
        .setOutlierDetection(OutlierDetection.newBuilder().setConsecutive5Xx(UInt32Value.of(3))).build();
    return ProxyConfigs.build(7, outbound(), List.of(web, Cluster.newBuilder().setName(DB).build()),
        List.of(endpoints(WEB)), List.of(routes()), List.of(workload()));
  }

  private static Listener withPaths(String escapedSlashes, String pathParameters) {
    Struct.Builder paths = Struct.newBuilder();
    if (escapedSlashes != null) {
      paths.putFields("escaped_slashes", Value.newBuilder().setStringValue(escapedSlashes).build());
    }
    if (pathParameters != null) {
      paths.putFields("path_parameters", Value.newBuilder().setStringValue(pathParameters).build());
    }
    return outbound().toBuilder().setMetadata(Metadata.newBuilder().putFilterMetadata("trellis", Struct.newBuilder()
        .putFields("path_normalization", Value.newBuilder().setStructValue(paths).build()).build())).build();
  }

  @Test
  void pathNormalizationComesFromTheOutboundListenersMetadataAndStaysStrictWhenAbsentOrUnknown() {
    PathNormalization relaxed = new PathNormalization(PathNormalization.EscapedSlashes.UNESCAPE_AND_FORWARD,
        PathNormalization.PathParameters.STRIP);
    assertThat(ProxyConfigs.pathNormalization(withPaths("UNESCAPE_AND_FORWARD", "STRIP"))).isEqualTo(relaxed);
    assertThat(ProxyConfigs.pathNormalization(outbound())).isEqualTo(PathNormalization.DEFAULTS);
    assertThat(ProxyConfigs.pathNormalization(withPaths("KEEP_UNCHANGED", null))).isEqualTo(PathNormalization.DEFAULTS);
    assertThat(ProxyConfigs.pathNormalization(withPaths(null, "STRIP")).escapedSlashes())
        .isEqualTo(PathNormalization.EscapedSlashes.REJECT_REQUEST);
    assertThat(config().paths()).isEqualTo(PathNormalization.DEFAULTS);
    assertThat(ProxyConfigs.build(1, withPaths("UNESCAPE_AND_FORWARD", "STRIP"), List.of(), List.of(), List.of(),
        List.of()).paths()).isEqualTo(relaxed);
    assertThat(ProxyConfigs.build(1, null, List.of(), List.of(), List.of(), List.of()).paths())
        .isEqualTo(PathNormalization.DEFAULTS);
  }

  @Test
  void theEgressAllowListComesFromThePassthroughChainsMetadataAndSkipsWhatIsNoPrefix() throws Exception {
    Value list = Value.newBuilder().setListValue(com.google.protobuf.ListValue.newBuilder()
        .addValues(Value.newBuilder().setStringValue("169.254.169.254/32"))
        .addValues(Value.newBuilder().setStringValue("fd00:ec2::254"))
        .addValues(Value.newBuilder().setStringValue("10.0.0.0/99"))
        .addValues(Value.newBuilder().setStringValue("metadata.internal"))).build();
    Listener l = outbound().toBuilder().setDefaultFilterChain(FilterChain.newBuilder().setName("passthrough")
        .setMetadata(Metadata.newBuilder().putFilterMetadata("trellis", Struct.newBuilder()
            .putFields("egress_allow_cidrs", list).build()))).build();
    ProxyConfig c = ProxyConfigs.build(1, l, List.of(), List.of(), List.of(), List.of());
    assertThat(c.egressAllow()).containsExactly(Cidr.of("169.254.169.254", 32), Cidr.of("fd00:ec2::254", 128));
    assertThat(c.egressAllows(InetAddress.getByName("169.254.169.254"))).isTrue();
    assertThat(c.egressAllows(InetAddress.getByName("169.254.169.253"))).isFalse();
    assertThat(config().egressAllow()).as("no metadata: nothing allowed").isEmpty();
  }

  @Test
  void outboundRulesMatchVipAndPortMostSpecificFirst() throws Exception {
    ProxyConfig c = config();
    assertThat(c.findOutbound(InetAddress.getByName("10.96.0.10"), 80).target())
        .isEqualTo(new OutboundRule.Http("web.d.svc.cluster.local:80"));
    assertThat(c.findOutbound(InetAddress.getByName("10.96.0.11"), 5432).target()).isEqualTo(new OutboundRule.Tcp(DB));
    assertThat(c.findOutbound(InetAddress.getByName("10.96.0.11"), 80).target()).isEqualTo(new OutboundRule.Tcp("wide"));
    assertThat(c.findOutbound(InetAddress.getByName("10.96.0.10"), 81)).isNull();
    assertThat(c.findOutbound(InetAddress.getByName("192.168.1.1"), 80)).isNull();
  }

  @Test
  void clustersCarryLbBreakersAndOutlierDetectionWithEnvoyDefaults() {
    ClusterSpec web = config().clusters().get(WEB);
    assertThat(web.lb()).isEqualTo(ClusterSpec.LbAlgorithm.LEAST_REQUEST);
    assertThat(web.connectTimeout()).isEqualTo(Duration.ofSeconds(2));
    assertThat(web.breaker().maxRequests()).isEqualTo(10);
    assertThat(web.breaker().maxConnections()).isEqualTo(1024);
    assertThat(web.breaker().retryBudgetPercent()).isEqualTo(20.0);
    assertThat(web.outlier().consecutive5xx()).isEqualTo(3);
    assertThat(web.outlier().baseEjectionTime()).isEqualTo(Duration.ofSeconds(30));
    ClusterSpec db = config().clusters().get(DB);
    assertThat(db.breaker()).isEqualTo(ClusterSpec.Breaker.DEFAULTS);
    assertThat(db.outlier()).isNull();
    assertThat(db.connectTimeout()).isEqualTo(Duration.ofSeconds(5));
  }

  @Test
  void endpointsCarryIdentityAndMeshMembershipAndSkipUnhealthyOnes() {
    List<EndpointSpec> eps = config().findEndpoints(WEB);
    assertThat(eps).hasSize(2);
    EndpointSpec mesh = eps.get(0);
    assertThat(mesh.hostPort()).isEqualTo("127.0.2.10:8080");
    assertThat(mesh.identity().toString()).isEqualTo("spiffe://cluster.local/ns/d/sa/web");
    assertThat(mesh.inMesh()).isTrue();
    assertThat(mesh.node()).isEqualTo("node-2");
    assertThat(mesh.nodeAddress()).isEqualTo("127.0.2.1");
    assertThat(mesh.locality()).isEqualTo("node-2");
    EndpointSpec outside = eps.get(1);
    assertThat(outside.identity()).isNull();
    assertThat(outside.inMesh()).as("no identity: plaintext passthrough").isFalse();
  }

  @Test
  void compactEndpointsTakeNodeFromTheLocalityAndNodeAddressFromItsMetadataAndAreInTheMeshUnlessSaid() {
    Struct inMesh = Struct.newBuilder()
        .putFields("identity", Value.newBuilder().setStringValue("spiffe://cluster.local/ns/d/sa/web").build())
        .putFields("workload", Value.newBuilder().setStringValue("d/web-0").build()).build();
    Struct outside = inMesh.toBuilder().putFields("workload", Value.newBuilder().setStringValue("d/web-1").build())
        .putFields("in_mesh", Value.newBuilder().setBoolValue(false).build()).build();
    ClusterLoadAssignment cla = ClusterLoadAssignment.newBuilder().setClusterName(WEB)
        .addEndpoints(LocalityLbEndpoints.newBuilder().setLocality(Locality.newBuilder().setSubZone("node-2"))
            .setMetadata(Metadata.newBuilder().putFilterMetadata("trellis", Struct.newBuilder()
                .putFields("node_address", Value.newBuilder().setStringValue("127.0.2.1").build()).build()))
            .addLbEndpoints(endpoint("127.0.2.10", inMesh))
            .addLbEndpoints(endpoint("127.0.2.11", outside)))
        .addEndpoints(LocalityLbEndpoints.newBuilder().setLocality(Locality.newBuilder().setSubZone("node-9"))
            .addLbEndpoints(endpoint("127.0.9.10", inMesh)))
        .build();

    List<EndpointSpec> eps = ProxyConfigs.endpoints(cla);

    assertThat(eps).extracting(EndpointSpec::hostPort, EndpointSpec::node, EndpointSpec::nodeAddress,
            EndpointSpec::inMesh, EndpointSpec::workload)
        .containsExactly(
            tuple("127.0.2.10:8080", "node-2", "127.0.2.1", true, "d/web-0"),
            tuple("127.0.2.11:8080", "node-2", "127.0.2.1", false, "d/web-1"),
            tuple("127.0.9.10:8080", "node-9", null, true, "d/web-0"));
    assertThat(eps.getFirst().identity().toString()).isEqualTo("spiffe://cluster.local/ns/d/sa/web");
  }

  @Test
  void aFactStatedOnTheEndpointWinsOverTheLocalitys() {
    Struct meta = Struct.newBuilder()
        .putFields("identity", Value.newBuilder().setStringValue("spiffe://cluster.local/ns/d/sa/web").build())
        .putFields("node", Value.newBuilder().setStringValue("node-3").build())
        .putFields("node_address", Value.newBuilder().setStringValue("127.0.3.1").build()).build();
    ClusterLoadAssignment cla = ClusterLoadAssignment.newBuilder().setClusterName(WEB)
        .addEndpoints(LocalityLbEndpoints.newBuilder().setLocality(Locality.newBuilder().setSubZone("node-2"))
            .setMetadata(Metadata.newBuilder().putFilterMetadata("trellis", Struct.newBuilder()
                .putFields("node_address", Value.newBuilder().setStringValue("127.0.2.1").build()).build()))
            .addLbEndpoints(endpoint("127.0.2.10", meta)))
        .build();

    assertThat(ProxyConfigs.endpoints(cla)).extracting(EndpointSpec::node, EndpointSpec::nodeAddress)
        .containsExactly(tuple("node-3", "127.0.3.1"));
  }

  static LbEndpoint endpoint(String address, Struct meta) {
    return LbEndpoint.newBuilder().setEndpoint(Endpoint.newBuilder().setAddress(Address.newBuilder()
            .setSocketAddress(SocketAddress.newBuilder().setAddress(address).setPortValue(8080))))
        .setHealthStatus(HealthStatus.HEALTHY)
        .setMetadata(Metadata.newBuilder().putFilterMetadata("trellis", meta)).build();
  }

  @Test
  void routeTablesMatchByAuthorityPathAndHeadersInOrder() {
    RouteTable t = config().routes().get("web.d.svc.cluster.local:80");
    RouteTable.Rule canary = t.find("web.d.svc.cluster.local", "/api/x?y=1", RouteTable.headers(Map.of("x-canary", "yes")));
    assertThat(canary.name()).isEqualTo("api");
    assertThat(canary.action().clusters()).extracting(RouteTable.WeightedCluster::weight).containsExactly(80, 20);
    assertThat(canary.action().timeout()).isEqualTo(Duration.ofSeconds(3));
    assertThat(canary.action().retry().retryOn()).containsExactlyInAnyOrder("5xx", "unavailable");
    assertThat(canary.action().retry().numRetries()).isEqualTo(2);
    assertThat(canary.action().retry().retriableStatusCodes()).containsExactly(503);
    assertThat(t.find("WEB.d.svc.cluster.local", "/api/x", RouteTable.headers(Map.of())).name()).isEqualTo("all");
    assertThat(t.find("10.96.0.10:80", "/", RouteTable.headers(Map.of())).action().clusters())
        .containsExactly(new RouteTable.WeightedCluster(WEB, 1));
    // One virtual host: the destination address already chose the service, so any Host header routes.
    assertThat(t.find("elsewhere", "/", RouteTable.headers(Map.of())).name()).isEqualTo("all");
    RouteTable two = new RouteTable("two", List.of(t.virtualHosts().getFirst(),
        new RouteTable.VirtualHost("other", java.util.Set.of("other.d"), List.of())));
    assertThat(two.find("elsewhere", "/", RouteTable.headers(Map.of()))).isNull();
  }

  @Test
  void localWorkloadsAreFoundByAddress() {
    LocalWorkload w = config().findLocal("127.0.1.10");
    assertThat(w.identity().toString()).isEqualTo("spiffe://cluster.local/ns/d/sa/client");
    assertThat(w.mtls()).isEqualTo(LocalWorkload.MtlsMode.STRICT);
    assertThat(config().findLocal("127.0.1.11")).isNull();
  }

  @Test
  void cidrContainment() throws Exception {
    Cidr c = Cidr.of("10.96.0.0", 12);
    assertThat(c.contains(InetAddress.getByName("10.111.255.255"))).isTrue();
    assertThat(c.contains(InetAddress.getByName("10.112.0.0"))).isFalse();
    assertThat(c.contains(InetAddress.getByName("::1"))).isFalse();
    assertThat(Cidr.of("fd00::", 64).contains(InetAddress.getByName("fd00::1"))).isTrue();
  }

  /** Each way CDS can say how to speak to a cluster's endpoints, and what the proxy makes of it. */
  @SuppressWarnings("deprecation") // the deprecated cluster fields are read when the extension is absent
  @Test
  void aClustersUpstreamProtocolIsReadFromItsHttpProtocolOptionsAsEnvoyReadsIt() {
    HttpProtocolOptions.ExplicitHttpConfig.Builder h1 = HttpProtocolOptions.ExplicitHttpConfig.newBuilder()
        .setHttpProtocolOptions(Http1ProtocolOptions.getDefaultInstance());
    HttpProtocolOptions.ExplicitHttpConfig.Builder h2 = HttpProtocolOptions.ExplicitHttpConfig.newBuilder()
        .setHttp2ProtocolOptions(Http2ProtocolOptions.getDefaultInstance());
    record Case(String name, Cluster.Builder cluster, ClusterSpec.UpstreamProtocol expected) {}
    List<Case> cases = List.of(
        new Case("explicit HTTP/1.1", withOptions(HttpProtocolOptions.newBuilder().setExplicitHttpConfig(h1)),
            ClusterSpec.UpstreamProtocol.HTTP1),
        new Case("explicit HTTP/2", withOptions(HttpProtocolOptions.newBuilder().setExplicitHttpConfig(h2)),
            ClusterSpec.UpstreamProtocol.HTTP2),
        new Case("use the downstream's", withOptions(HttpProtocolOptions.newBuilder().setUseDownstreamProtocolConfig(
            HttpProtocolOptions.UseDownstreamHttpConfig.getDefaultInstance())), ClusterSpec.UpstreamProtocol.DOWNSTREAM),
        new Case("auto (ALPN; none on a plaintext hop)", withOptions(HttpProtocolOptions.newBuilder().setAutoConfig(
            HttpProtocolOptions.AutoHttpConfig.getDefaultInstance())), ClusterSpec.UpstreamProtocol.HTTP1),
        new Case("options without a protocol", withOptions(HttpProtocolOptions.newBuilder()),
            ClusterSpec.UpstreamProtocol.HTTP1),
        new Case("no options: Envoy's default", Cluster.newBuilder().setName("c"), ClusterSpec.UpstreamProtocol.HTTP1),
        new Case("deprecated http2_protocol_options", Cluster.newBuilder().setName("c")
            .setHttp2ProtocolOptions(Http2ProtocolOptions.getDefaultInstance()), ClusterSpec.UpstreamProtocol.HTTP2),
        new Case("deprecated USE_DOWNSTREAM_PROTOCOL", Cluster.newBuilder().setName("c")
            .setProtocolSelection(Cluster.ClusterProtocolSelection.USE_DOWNSTREAM_PROTOCOL),
            ClusterSpec.UpstreamProtocol.DOWNSTREAM),
        new Case("the extension wins over the deprecated field", withOptions(HttpProtocolOptions.newBuilder()
            .setExplicitHttpConfig(h1)).setHttp2ProtocolOptions(Http2ProtocolOptions.getDefaultInstance()),
            ClusterSpec.UpstreamProtocol.HTTP1),
        new Case("another message under the key is not read", Cluster.newBuilder().setName("c")
            .putTypedExtensionProtocolOptions(ProxyConfigs.HTTP_PROTOCOL_OPTIONS, Any.pack(UInt32Value.of(2))),
            ClusterSpec.UpstreamProtocol.HTTP1));
    for (Case c : cases) {
      assertThat(ProxyConfigs.cluster(c.cluster().build()).upstream()).as(c.name()).isEqualTo(c.expected());
    }
  }

  private static Cluster.Builder withOptions(HttpProtocolOptions.Builder options) {
    return Cluster.newBuilder().setName("c").putTypedExtensionProtocolOptions(
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions", Any.pack(options.build()));
  }
}
