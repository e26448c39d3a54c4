package dev.trellis.controlplane.translate;

import static dev.trellis.xds.resource.ResourceType.CLUSTER;
import static dev.trellis.xds.resource.ResourceType.ENDPOINT;
import static dev.trellis.xds.resource.ResourceType.LISTENER;
import static dev.trellis.xds.resource.ResourceType.ROUTE;
import static dev.trellis.xds.resource.ResourceType.SECRET;
import static dev.trellis.xds.resource.ResourceType.WORKLOAD;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Message;
import dev.trellis.controlplane.config.MeshFile;
import dev.trellis.controlplane.model.Mesh;
import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.svid.TrustBundle;
import dev.trellis.mtls.testing.TestPki;
import dev.trellis.xds.cache.Snapshot;
import dev.trellis.xds.resource.ClientKind;
import dev.trellis.xds.resource.ResourceType;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import dev.trellis.xds.resource.XdsResource;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.Secret;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class TranslatorTest {

  static final String GREETER = "greeter.demo.svc.cluster.local";
  private final TestPki pki = TestPki.newRoot(TrustDomain.CLUSTER_LOCAL);
  private final Snapshot example = translate(load(Path.of("..", "examples", "mesh.yaml")));

  private static Mesh load(Path p) {
    try {
      return MeshFile.load(p);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  private Snapshot translate(Mesh mesh) {
    return Translator.translate(mesh, TrustBundle.of(TrustDomain.CLUSTER_LOCAL, java.util.List.of(pki.root())));
  }

  @SuppressWarnings("unchecked")
  static <T extends Message> T get(Snapshot s, ResourceType type, String node, String name) {
    XdsResource r = s.view(type, node).get(name);
    assertThat(r).as("%s %s in %s", type.shortName(), name, s.view(type, node).keySet()).isNotNull();
    try {
      return (T) type.unpack(r.body());
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void everyServicePortBecomesAnEdsClusterFedOverAds() {
    Cluster c = get(example, CLUSTER, null, "outbound|50051||" + GREETER);
    assertThat(c.getType()).isEqualTo(Cluster.DiscoveryType.EDS);
    assertThat(c.getEdsClusterConfig().getServiceName()).isEqualTo("outbound|50051||" + GREETER);
    assertThat(c.getEdsClusterConfig().getEdsConfig().hasAds()).isTrue();
    assertThat(c.getMetadata().getFilterMetadataOrThrow("trellis").getFieldsOrThrow("protocol").getStringValue())
        .isEqualTo("grpc");
    assertThat(example.view(CLUSTER, null)).containsKeys("outbound|50051||greeter-v1.demo.svc.cluster.local",
        "outbound|8080||frontend.demo.svc.cluster.local", "PassthroughCluster");
  }

  @Test
  void trafficPolicyBecomesLbPolicyCircuitBreakersAndOutlierDetection() {
    Cluster c = get(example, CLUSTER, null, "outbound|50051||" + GREETER);
    assertThat(c.getLbPolicy()).isEqualTo(Cluster.LbPolicy.LEAST_REQUEST);
    var t = c.getCircuitBreakers().getThresholds(0);
    assertThat(t.getMaxRequests().getValue()).isEqualTo(1000);
    assertThat(t.getMaxPendingRequests().getValue()).isEqualTo(100);
    assertThat(t.hasMaxConnections()).isFalse();
    assertThat(c.getOutlierDetection().getConsecutive5Xx().getValue()).isEqualTo(5);
    assertThat(c.getOutlierDetection().getInterval().getSeconds()).isEqualTo(10);
    assertThat(c.getOutlierDetection().getMaxEjectionPercent().getValue()).isEqualTo(50);
    Cluster plain = get(example, CLUSTER, null, "outbound|50051||greeter-v1.demo.svc.cluster.local");
    assertThat(plain.getLbPolicy()).isEqualTo(Cluster.LbPolicy.ROUND_ROBIN);
    assertThat(plain.hasCircuitBreakers()).isFalse();
  }

  @Test
  void endpointsAreTheSelectedWorkloadsGroupedPerNodeWithIdentityMetadata() {
    ClusterLoadAssignment cla = get(example, ENDPOINT, null, "outbound|50051||greeter-v1.demo.svc.cluster.local");
    assertThat(cla.getEndpointsList()).extracting(l -> l.getLocality().getSubZone()).containsExactly("node-1", "node-2");
    assertThat(cla.getEndpointsList()).allSatisfy(l -> assertThat(l.getLoadBalancingWeight().getValue())
        .isEqualTo(l.getLbEndpointsCount()));
    var endpoint = cla.getEndpoints(0).getLbEndpoints(0);
    assertThat(endpoint.getEndpoint().getAddress().getSocketAddress().getAddress()).isEqualTo("127.0.1.11");
    assertThat(endpoint.getEndpoint().getAddress().getSocketAddress().getPortValue()).isEqualTo(50051);
    var meta = endpoint.getMetadata().getFilterMetadataOrThrow("trellis");
    assertThat(meta.getFieldsOrThrow("identity").getStringValue()).isEqualTo("spiffe://cluster.local/ns/demo/sa/greeter");
    assertThat(meta.getFieldsOrThrow("workload").getStringValue()).isEqualTo("demo/greeter-v1-0");
    assertThat(meta.getFieldsMap()).as("in the mesh, node and its address on the locality").doesNotContainKeys(
        "in_mesh", "node", "node_address");
    assertThat(cla.getEndpoints(0).getMetadata().getFilterMetadataOrThrow("trellis").getFieldsOrThrow("node_address")
        .getStringValue()).isEqualTo("127.0.1.1");
    XdsResource legacy = example.view(ENDPOINT, null, ClientKind.LEGACY_NODE_PROXY)
        .get("outbound|50051||greeter-v1.demo.svc.cluster.local");
    assertThat(legacy.body()).as("node proxies built before the compact form get the earlier one")
        .isNotEqualTo(example.view(ENDPOINT, null).get("outbound|50051||greeter-v1.demo.svc.cluster.local").body());
    assertThat(example.view(ENDPOINT, null, ClientKind.NODE_PROXY).get("outbound|50051||greeter-v1.demo.svc.cluster.local"))
        .isEqualTo(example.view(ENDPOINT, null).get("outbound|50051||greeter-v1.demo.svc.cluster.local"));
    ClusterLoadAssignment all = get(example, ENDPOINT, null, "outbound|50051||" + GREETER);
    assertThat(all.getEndpointsList().stream().mapToInt(LocalityLbEndpoints::getLbEndpointsCount).sum()).isEqualTo(3);
  }

  @Test
  void weightedSplitTimeoutAndRetryPolicyLandOnTheRoute() {
    RouteConfiguration rc = get(example, ROUTE, null, GREETER + ":50051");
    assertThat(rc.getVirtualHostsCount()).isEqualTo(1);
    assertThat(rc.getVirtualHosts(0).getDomainsList()).contains(GREETER, GREETER + ":50051", "greeter.demo",
        "10.96.0.10", "10.96.0.10:50051");
    Route route = rc.getVirtualHosts(0).getRoutes(0);
    assertThat(route.getMatch().getPrefix()).isEqualTo("/");
    var weighted = route.getRoute().getWeightedClusters().getClustersList();
    assertThat(weighted).extracting(w -> w.getName() + "=" + w.getWeight().getValue()).containsExactly(
        "outbound|50051||greeter-v1.demo.svc.cluster.local=80", "outbound|50051||greeter-v2.demo.svc.cluster.local=20");
    assertThat(route.getRoute().getTimeout().getSeconds()).isEqualTo(5);
    assertThat(route.getRoute().getMaxStreamDuration().getMaxStreamDuration().getSeconds()).isEqualTo(5);
    var retry = route.getRoute().getRetryPolicy();
    assertThat(retry.getRetryOn()).isEqualTo("unavailable,connect-failure,reset");
    assertThat(retry.getNumRetries().getValue()).isEqualTo(2);
    assertThat(retry.getRetryBackOff().getBaseInterval().getNanos()).isEqualTo(25_000_000);
    assertThat(retry.getRetryBackOff().getMaxInterval().getNanos()).isEqualTo(250_000_000);
  }

  @Test
  void aPortWithoutARouteGoesToItsOwnCluster() {
    RouteConfiguration rc = get(example, ROUTE, null, "frontend.demo.svc.cluster.local:8080");
    assertThat(rc.getVirtualHosts(0).getRoutes(0).getRoute().getCluster())
        .isEqualTo("outbound|8080||frontend.demo.svc.cluster.local");
  }

  @Test
  void apiListenerIsNamedExactlyAsAGrpcClientAsksForIt() throws Exception {
    Listener l = get(example, LISTENER, null, GREETER + ":50051");
    HttpConnectionManager hcm = l.getApiListener().getApiListener().unpack(HttpConnectionManager.class);
    assertThat(hcm.getRds().getRouteConfigName()).isEqualTo(GREETER + ":50051");
    assertThat(hcm.getRds().getConfigSource().hasAds()).isTrue();
    assertThat(hcm.getHttpFiltersList()).extracting(f -> f.getName()).containsExactly("envoy.filters.http.router");
  }

  @Test
  void outboundListenerHasAChainPerVipAndPortAndAPassthroughDefault() throws Exception {
    Listener l = get(example, LISTENER, null, XdsNames.OUTBOUND_LISTENER);
    assertThat(l.getAddress().getSocketAddress().getPortValue()).isEqualTo(15001);
    FilterChain greeter = l.getFilterChainsList().stream().filter(c -> c.getName().equals(GREETER + ":50051"))
        .findFirst().orElseThrow();
    assertThat(greeter.getFilterChainMatch().getPrefixRanges(0).getAddressPrefix()).isEqualTo("10.96.0.10");
    assertThat(greeter.getFilterChainMatch().getPrefixRanges(0).getPrefixLen().getValue()).isEqualTo(32);
    assertThat(greeter.getFilterChainMatch().getDestinationPort().getValue()).isEqualTo(50051);
    assertThat(l.getFilterChainsList()).extracting(FilterChain::getName).as("services without a VIP get no chain")
        .containsExactlyInAnyOrder(GREETER + ":50051", "frontend.demo.svc.cluster.local:8080");
    assertThat(l.getDefaultFilterChain().getFilters(0).getTypedConfig().unpack(TcpProxy.class).getCluster())
        .isEqualTo("PassthroughCluster");
  }

  @Test
  void theEgressAllowListRidesOnThePassthroughChainOnlyWhenThereIsOne() throws Exception {
    Listener plain = get(example, LISTENER, null, XdsNames.OUTBOUND_LISTENER);
    assertThat(plain.getDefaultFilterChain().hasMetadata()).isFalse();
    Mesh mesh = MeshFile.parse("""
        nodes: [{name: n, address: 127.0.1.1, token: token-0123456789abcdef}]
        egress: {allowCidrs: [169.254.169.254/32, "fd00:ec2::254"]}
        """, "m.yaml", null);
    Listener l = get(translate(mesh), LISTENER, null, XdsNames.OUTBOUND_LISTENER);
    assertThat(l.getDefaultFilterChain().getMetadata().getFilterMetadataOrThrow("trellis")
        .getFieldsOrThrow("egress_allow_cidrs").getListValue().getValuesList())
        .extracting(com.google.protobuf.Value::getStringValue)
        .containsExactly("169.254.169.254/32", "fd00:ec2:0:0:0:0:0:254/128");
  }

  @Test
  void pathNormalizationIsInEveryHcmInEnvoysFieldsAndInTheOutboundListenersMetadataForNodeProxies() throws Exception {
    Listener api = get(example, LISTENER, null, GREETER + ":50051");
    Listener outbound = get(example, LISTENER, null, XdsNames.OUTBOUND_LISTENER);
    List<HttpConnectionManager> hcms = new java.util.ArrayList<>();
    hcms.add(api.getApiListener().getApiListener().unpack(HttpConnectionManager.class));
    for (FilterChain c : outbound.getFilterChainsList()) {
      if (c.getFilters(0).getTypedConfig().is(HttpConnectionManager.class)) {
        hcms.add(c.getFilters(0).getTypedConfig().unpack(HttpConnectionManager.class));
      }
    }
    assertThat(hcms).hasSizeGreaterThan(1).allSatisfy(hcm -> {
      assertThat(hcm.getNormalizePath().getValue()).isTrue();
      assertThat(hcm.getMergeSlashes()).isTrue();
      assertThat(hcm.getPathWithEscapedSlashesAction())
          .isEqualTo(HttpConnectionManager.PathWithEscapedSlashesAction.REJECT_REQUEST);
    });
    assertThat(pathMetadata(outbound)).isEqualTo("REJECT_REQUEST REJECT");

    Mesh relaxed = MeshFile.parse(java.nio.file.Files.readString(Path.of("..", "examples", "mesh.yaml"))
        + "\nhttp: {escapedSlashes: unescape-and-forward, pathParameters: strip}\n", "m.yaml", null);
    Snapshot s = translate(relaxed);
    Listener relaxedApi = get(s, LISTENER, null, GREETER + ":50051");
    assertThat(relaxedApi.getApiListener().getApiListener().unpack(HttpConnectionManager.class)
        .getPathWithEscapedSlashesAction())
        .isEqualTo(HttpConnectionManager.PathWithEscapedSlashesAction.UNESCAPE_AND_FORWARD);
    Listener relaxedOutbound = get(s, LISTENER, null, XdsNames.OUTBOUND_LISTENER);
    assertThat(pathMetadata(relaxedOutbound)).isEqualTo("UNESCAPE_AND_FORWARD STRIP");
  }

  private static String pathMetadata(Listener l) {
    var paths = l.getMetadata().getFilterMetadataOrThrow("trellis").getFieldsOrThrow("path_normalization")
        .getStructValue();
    return paths.getFieldsOrThrow("escaped_slashes").getStringValue() + " "
        + paths.getFieldsOrThrow("path_parameters").getStringValue();
  }

  @Test
  void tcpPortsGetATcpProxyAndNoRoutes() throws Exception {
    Mesh mesh = MeshFile.parse("""
        nodes: [{name: n, address: 127.0.1.1, token: token-0123456789abcdef}]
        services: [{name: db, namespace: data, vip: 10.96.1.1, ports: [{name: pg, port: 5432}]}]
        """, "m.yaml", null);
    Snapshot s = translate(mesh);
    assertThat(s.view(ROUTE, null)).isEmpty();
    assertThat(s.view(LISTENER, null)).containsOnlyKeys(XdsNames.OUTBOUND_LISTENER);
    Listener l = get(s, LISTENER, null, XdsNames.OUTBOUND_LISTENER);
    assertThat(l.getFilterChains(0).getFilters(0).getTypedConfig().unpack(TcpProxy.class).getCluster())
        .isEqualTo("outbound|5432||db.data.svc.cluster.local");
  }

  @Test
  void matchesBecomeRouteMatchersInOrder() throws Exception {
    Mesh mesh = MeshFile.parse("""
        nodes: [{name: n, address: 127.0.1.1, token: token-0123456789abcdef}]
        services:
          - {name: web, namespace: d, ports: [{name: http, port: 80}]}
          - {name: canary, namespace: d, ports: [{name: http, port: 80}]}
        policies:
          - {name: p, namespace: d, service: web, loadBalancer: {algorithm: ring-hash, hashHeader: X-User}}
        routes:
          - name: r
            namespace: d
            service: web
            rules:
              - matches:
                  - {path: {type: exact, value: /login}, method: POST}
                  - {headers: [{name: X-Canary, value: "yes"}]}
                backends: [{service: canary}]
              - matches: [{path: {type: regex, value: "/api/v[0-9]+/.*"}}]
                backends: [{service: web}]
                retry: {attempts: 3, statusCodes: [503]}
        """, "m.yaml", null);
    RouteConfiguration rc = get(translate(mesh), ROUTE, null, "web.d.svc.cluster.local:80");
    var routes = rc.getVirtualHosts(0).getRoutesList();
    assertThat(routes).hasSize(3);
    assertThat(routes.get(0).getMatch().getPath()).isEqualTo("/login");
    assertThat(routes.get(0).getMatch().getHeaders(0).getName()).isEqualTo(":method");
    assertThat(routes.get(0).getRoute().getCluster()).isEqualTo("outbound|80||canary.d.svc.cluster.local");
    assertThat(routes.get(1).getMatch().getHeaders(0).getName()).isEqualTo("x-canary");
    assertThat(routes.get(1).getMatch().getHeaders(0).getStringMatch().getExact()).isEqualTo("yes");
    assertThat(routes.get(2).getMatch().getSafeRegex().getRegex()).isEqualTo("/api/v[0-9]+/.*");
    assertThat(routes.get(2).getRoute().getRetryPolicy().getRetryOn()).endsWith("retriable-status-codes");
    assertThat(routes.get(2).getRoute().getRetryPolicy().getRetriableStatusCodesList()).containsExactly(503);
    assertThat(routes.get(2).getRoute().getHashPolicy(0).getHeader().getHeaderName()).isEqualTo("x-user");
    Cluster web = get(translate(mesh), CLUSTER, null, "outbound|80||web.d.svc.cluster.local");
    assertThat(web.getLbPolicy()).isEqualTo(Cluster.LbPolicy.RING_HASH);
  }

  @Test
  void trustBundleIsAnSdsSecretWithEveryRoot() {
    Secret secret = get(example, SECRET, null, XdsNames.TRUST_BUNDLE);
    assertThat(secret.getValidationContext().getTrustedCa().getInlineString())
        .isEqualTo(dev.trellis.mtls.svid.Pem.encodeCertificate(pki.root()));
  }

  @Test
  void workloadsAreNodeScopedWithTheirIdentityAndServices() {
    assertThat(example.view(WORKLOAD, "node-1")).containsOnlyKeys("demo/frontend-0", "demo/greeter-v1-0");
    assertThat(example.view(WORKLOAD, "node-2")).containsOnlyKeys("demo/greeter-v1-1", "demo/greeter-v2-0");
    dev.trellis.mesh.v1.Workload w = get(example, WORKLOAD, "node-2", "demo/greeter-v2-0");
    assertThat(w.getIdentity()).isEqualTo("spiffe://cluster.local/ns/demo/sa/greeter");
    assertThat(w.getServicesList()).containsExactly(GREETER, "greeter-v2.demo.svc.cluster.local");
    assertThat(w.getMtlsMode()).isEqualTo(dev.trellis.mesh.v1.MtlsMode.PERMISSIVE);
    assertThat(w.getAddressesList()).containsExactly("127.0.2.12");
    assertThat(w.getPortProtocolsMap()).containsEntry(50051, "grpc");
  }

  @Test
  void workloadsCarryTheAuthorizationPoliciesThatSelectThem() {
    dev.trellis.mesh.v1.Workload greeter = get(example, WORKLOAD, "node-2", "demo/greeter-v2-0");
    assertThat(greeter.getAuthorizationsList()).singleElement().satisfies(a -> {
      assertThat(a.getName()).isEqualTo("demo/greeter-callers");
      assertThat(a.getAction()).isEqualTo(dev.trellis.mesh.v1.Authorization.Action.ALLOW);
      assertThat(a.getRules(0).getFromList()).containsExactly("spiffe://cluster.local/ns/demo/sa/frontend");
      assertThat(a.getRules(0).getPortsList()).containsExactly(50051);
    });
    dev.trellis.mesh.v1.Workload frontend = get(example, WORKLOAD, "node-1", "demo/frontend-0");
    assertThat(frontend.getAuthorizationsList()).as("the selector does not pick the frontend").isEmpty();
  }

  @Test
  void aCachedTranslationAfterAChangeEqualsAColdOne() throws Exception {
    String text = java.nio.file.Files.readString(Path.of("..", "examples", "mesh.yaml"));
    TranslationCache cache = new TranslationCache();
    TrustBundle bundle = TrustBundle.of(TrustDomain.CLUSTER_LOCAL, java.util.List.of(pki.root()));
    Translator.translate(MeshFile.parse(text, "m.yaml", null), bundle, cache);
    Mesh changed = MeshFile.parse(text.replace("127.0.2.12", "127.0.2.99").replace("weight: 80", "weight: 70"),
        "m.yaml", null);
    Snapshot cached = Translator.translate(changed, bundle, cache);
    Snapshot cold = Translator.translate(changed, bundle);
    assertThat(cached.diffFrom(cold).isEmpty()).isTrue();
    assertThat(cold.diffFrom(example).isEmpty()).isFalse();
    assertThat(cache.hits()).as("unchanged services and workloads were reused").isPositive();

    Mesh relaxed = MeshFile.parse(text + "\nhttp: {escapedSlashes: unescape-and-forward}\n", "m.yaml", null);
    assertThat(Translator.translate(relaxed, bundle, cache).diffFrom(Translator.translate(relaxed, bundle)).isEmpty())
        .as("a change of the http section is not served from the cache").isTrue();
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', textBlock = """
      a vip                | vip: 10.96.0.10             | vip: 10.96.0.11
      a port               | '{name: http, port: 8080}'   | '{name: http, port: 8081}'
      a service name       | '- name: frontend\\n'       | '- name: web\\n'
      the cluster domain   | 'trustDomain:'               | 'clusterDomain: example.org\\ntrustDomain:'
      """)
  void aChangeTheOutboundListenerDependsOnIsNotServedFromTheCache(String what, String from, String to)
      throws Exception {
    String text = java.nio.file.Files.readString(Path.of("..", "examples", "mesh.yaml"));
    TranslationCache cache = new TranslationCache();
    TrustBundle bundle = TrustBundle.of(TrustDomain.CLUSTER_LOCAL, java.util.List.of(pki.root()));
    Translator.translate(MeshFile.parse(text, "m.yaml", null), bundle, cache);
    String edited = text.replace(from.translateEscapes(), to.translateEscapes());
    assertThat(edited).isNotEqualTo(text);
    for (String t : java.util.List.of(edited, edited + "\negress: {allowCidrs: [10.1.0.0/16]}\n",
        edited + "\nhttp: {escapedSlashes: unescape-and-forward}\n")) {
      Mesh changed = MeshFile.parse(t, "m.yaml", null);
      Snapshot cached = Translator.translate(changed, bundle, cache);
      assertThat(cached.diffFrom(Translator.translate(changed, bundle)).isEmpty()).as(what).isTrue();
      assertThat(cached.diffFrom(example).isEmpty()).as(what).isFalse();
    }
  }

  @Test
  void translationIsDeterministic() {
    Snapshot again = translate(load(Path.of("..", "examples", "mesh.yaml")));
    assertThat(again.diffFrom(example).isEmpty()).isTrue();
  }

  @Test
  void aMaglevServiceIsRingHashForProxylessClientsOnlyWithANote() throws Exception {
    String text = java.nio.file.Files.readString(Path.of("..", "examples", "mesh.yaml"));
    assertThat(text).contains("loadBalancer: {algorithm: least-request}");
    Snapshot s = translate(MeshFile.parse(text.replace("loadBalancer: {algorithm: least-request}",
        "loadBalancer: {algorithm: maglev, hashHeader: x-user}"), "m.yaml", null));
    String name = "outbound|50051||" + GREETER;
    Map<ClientKind, Cluster.LbPolicy> served = new EnumMap<>(ClientKind.class);
    for (ClientKind kind : ClientKind.values()) {
      served.put(kind, unpackCluster(s.view(CLUSTER, null, kind).get(name)).getLbPolicy());
    }
    assertThat(served).containsExactlyInAnyOrderEntriesOf(Map.of(ClientKind.NODE_PROXY, Cluster.LbPolicy.MAGLEV,
        ClientKind.LEGACY_NODE_PROXY, Cluster.LbPolicy.MAGLEV,
        ClientKind.ENVOY, Cluster.LbPolicy.MAGLEV, ClientKind.PROXYLESS, Cluster.LbPolicy.RING_HASH));
    assertThat(s.variant(CLUSTER, ClientKind.PROXYLESS, name).note()).startsWith("RING_HASH instead of MAGLEV");
    Cluster ring = unpackCluster(s.view(CLUSTER, null, ClientKind.PROXYLESS).get(name));
    Cluster maglev = unpackCluster(s.view(CLUSTER, null, ClientKind.ENVOY).get(name));
    assertThat(ring.toBuilder().setLbPolicy(Cluster.LbPolicy.MAGLEV).build()).as("only the load balancer differs")
        .isEqualTo(maglev);
    assertThat(s.variants(CLUSTER, ClientKind.PROXYLESS)).as("only the maglev service has a variant")
        .containsOnlyKeys(name);
    assertThat(example.variants(CLUSTER, ClientKind.PROXYLESS)).isEmpty();
  }

  private static Cluster unpackCluster(XdsResource r) {
    try {
      return r.body().unpack(Cluster.class);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }
}
