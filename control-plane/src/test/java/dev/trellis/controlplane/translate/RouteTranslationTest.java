package dev.trellis.controlplane.translate;

import static dev.trellis.controlplane.translate.TranslationFixtures.HTTP_80;
import static dev.trellis.controlplane.translate.TranslationFixtures.mesh;
import static dev.trellis.controlplane.translate.TranslationFixtures.ref;
import static dev.trellis.controlplane.translate.TranslationFixtures.service;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.UInt32Value;
import dev.trellis.controlplane.model.HttpRoute;
import dev.trellis.controlplane.model.HttpRoute.Backend;
import dev.trellis.controlplane.model.HttpRoute.HeaderMatch;
import dev.trellis.controlplane.model.HttpRoute.HeaderType;
import dev.trellis.controlplane.model.HttpRoute.Match;
import dev.trellis.controlplane.model.HttpRoute.PathMatch;
import dev.trellis.controlplane.model.HttpRoute.PathType;
import dev.trellis.controlplane.model.HttpRoute.Retry;
import dev.trellis.controlplane.model.HttpRoute.Rule;
import dev.trellis.controlplane.model.Mesh;
import dev.trellis.controlplane.model.Service;
import dev.trellis.controlplane.model.ServicePort;
import dev.trellis.controlplane.model.TrafficPolicy;
import dev.trellis.controlplane.model.TrafficPolicy.Algorithm;
import dev.trellis.controlplane.model.TrafficPolicy.LoadBalancer;
import dev.trellis.xds.cache.Snapshot;
import io.envoyproxy.envoy.config.route.v3.HeaderMatcher;
import io.envoyproxy.envoy.config.route.v3.RetryPolicy;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteAction;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.RouteMatch;
import io.envoyproxy.envoy.config.route.v3.WeightedCluster;
import io.envoyproxy.envoy.type.matcher.v3.RegexMatcher;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** {@link RouteTranslation}: a service port and its route (or none) → the expected routes, one row per decision. */
class RouteTranslationTest {

  static final Service WEB = service("web", "10.96.0.10", HTTP_80, new ServicePort("admin", 81, 9081,
      ServicePort.AppProtocol.HTTP));
  static final Service CANARY = service("canary", null, HTTP_80);
  static final Mesh MESH = mesh(List.of(WEB, CANARY), List.of(), List.of());
  static final String WEB_80 = "outbound|80||web.demo.svc.cluster.local";
  static final String CANARY_80 = "outbound|80||canary.demo.svc.cluster.local";

  static HttpRoute route(Rule... rules) {
    return new HttpRoute("r", "demo", ref("web"), null, List.of(rules));
  }

  static Rule to(List<Match> matches, Backend... backends) {
    return new Rule(matches, List.of(backends), null, null);
  }

  static Backend backend(String service, int weight) {
    return new Backend(ref(service), null, weight);
  }

  static Route.Builder named(String name, RouteMatch.Builder match, RouteAction.Builder action) {
    return Route.newBuilder().setName(name).setMatch(match).setRoute(action);
  }

  static RouteMatch.Builder everything() {
    return RouteMatch.newBuilder().setPrefix("/");
  }

  static RouteAction.Builder cluster(String name) {
    return RouteAction.newBuilder().setCluster(name);
  }

  static StringMatcher exact(String value) {
    return StringMatcher.newBuilder().setExact(value).build();
  }

  static com.google.protobuf.Duration millis(long ms) {
    return com.google.protobuf.Duration.newBuilder().setSeconds(ms / 1000).setNanos((int) (ms % 1000) * 1_000_000)
        .build();
  }

  record Case(String name, HttpRoute route, TrafficPolicy policy, List<Route.Builder> expected) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Stream<Case> cases() {
    Match login = new Match(new PathMatch(PathType.EXACT, "/login"), List.of(), "POST");
    Match canaryHeader = new Match(null, List.of(new HeaderMatch("x-canary", HeaderType.EXACT, "yes")), null);
    Match api = new Match(new PathMatch(PathType.REGEX, "/api/v[0-9]+/.*"),
        List.of(new HeaderMatch("x-user", HeaderType.REGEX, "a.*")), null);
    Match prefix = new Match(new PathMatch(PathType.PREFIX, "/static"), List.of(), null);
    return Stream.of(
        new Case("no route: one catch-all to the port's own cluster", null, null,
            List.of(named("default", everything(), cluster(WEB_80)))),
        new Case("a rule without matches matches everything", route(to(List.of(), backend("canary", 1))), null,
            List.of(named("demo/r/rule-0/match-0", everything(), cluster(CANARY_80)))),
        new Case("each match of a rule is a route, rules in order",
            route(to(List.of(login, canaryHeader), backend("canary", 1)), to(List.of(api, prefix), backend("web", 1))),
            null, List.of(
                named("demo/r/rule-0/match-0", RouteMatch.newBuilder().setPath("/login")
                    .addHeaders(HeaderMatcher.newBuilder().setName(":method").setStringMatch(exact("POST"))),
                    cluster(CANARY_80)),
                named("demo/r/rule-0/match-1", everything().addHeaders(HeaderMatcher.newBuilder().setName("x-canary")
                    .setStringMatch(exact("yes"))), cluster(CANARY_80)),
                named("demo/r/rule-1/match-0", RouteMatch.newBuilder()
                    .setSafeRegex(RegexMatcher.newBuilder().setRegex("/api/v[0-9]+/.*"))
                    .addHeaders(HeaderMatcher.newBuilder().setName("x-user").setStringMatch(StringMatcher.newBuilder()
                        .setSafeRegex(RegexMatcher.newBuilder().setRegex("a.*")))), cluster(WEB_80)),
                named("demo/r/rule-1/match-1", RouteMatch.newBuilder().setPrefix("/static"), cluster(WEB_80)))),
        new Case("several live backends: weighted clusters; a weight of 0 is left out",
            route(to(List.of(), backend("web", 80), backend("canary", 20), backend("canary", 0))), null,
            List.of(named("demo/r/rule-0/match-0", everything(), RouteAction.newBuilder().setWeightedClusters(
                WeightedCluster.newBuilder()
                    .addClusters(WeightedCluster.ClusterWeight.newBuilder().setName(WEB_80).setWeight(UInt32Value.of(80)))
                    .addClusters(WeightedCluster.ClusterWeight.newBuilder().setName(CANARY_80)
                        .setWeight(UInt32Value.of(20))))))),
        new Case("one live backend left: a plain cluster",
            route(to(List.of(), backend("web", 0), backend("canary", 5))), null,
            List.of(named("demo/r/rule-0/match-0", everything(), cluster(CANARY_80)))),
        new Case("a backend port picks that port's cluster",
            route(to(List.of(), new Backend(ref("web"), 81, 1))), null,
            List.of(named("demo/r/rule-0/match-0", everything(), cluster("outbound|81||web.demo.svc.cluster.local")))),
        new Case("a timeout is Envoy's timeout and gRPC's max_stream_duration",
            route(new Rule(List.of(), List.of(backend("web", 1)), Duration.ofSeconds(5), null)), null,
            List.of(named("demo/r/rule-0/match-0", everything(), cluster(WEB_80)
                .setTimeout(millis(5000)).setMaxStreamDuration(RouteAction.MaxStreamDuration.newBuilder()
                    .setMaxStreamDuration(millis(5000)))))),
        new Case("retries: conditions, attempts, per-try timeout, backoff",
            route(new Rule(List.of(), List.of(backend("web", 1)), null, new Retry(2, List.of("5xx", "reset"),
                Duration.ofMillis(500), Duration.ofMillis(25), Duration.ofMillis(250), List.of()))), null,
            List.of(named("demo/r/rule-0/match-0", everything(), cluster(WEB_80).setRetryPolicy(RetryPolicy.newBuilder()
                .setRetryOn("5xx,reset").setNumRetries(UInt32Value.of(2)).setPerTryTimeout(millis(500))
                .setRetryBackOff(RetryPolicy.RetryBackOff.newBuilder().setBaseInterval(millis(25))
                    .setMaxInterval(millis(250))))))),
        new Case("status codes add retriable-status-codes once; a base backoff alone has no maximum",
            route(new Rule(List.of(), List.of(backend("web", 1)), null, new Retry(3, List.of("connect-failure"), null,
                Duration.ofMillis(10), null, List.of(503, 502)))), null,
            List.of(named("demo/r/rule-0/match-0", everything(), cluster(WEB_80).setRetryPolicy(RetryPolicy.newBuilder()
                .setRetryOn("connect-failure,retriable-status-codes").setNumRetries(UInt32Value.of(3))
                .setRetryBackOff(RetryPolicy.RetryBackOff.newBuilder().setBaseInterval(millis(10)))
                .addRetriableStatusCodes(503).addRetriableStatusCodes(502))))),
        new Case("ring hash on a header: every route hashes that header", route(to(List.of(), backend("web", 1))),
            new TrafficPolicy("p", "demo", ref("web"), new LoadBalancer(Algorithm.RING_HASH, "x-user"), null, null, null),
            List.of(named("demo/r/rule-0/match-0", everything(), cluster(WEB_80).addHashPolicy(RouteAction.HashPolicy
                .newBuilder().setHeader(RouteAction.HashPolicy.Header.newBuilder().setHeaderName("x-user")))))),
        new Case("maglev without a header hashes the source IP, the catch-all route too", null,
            new TrafficPolicy("p", "demo", ref("web"), new LoadBalancer(Algorithm.MAGLEV, null), null, null, null),
            List.of(named("default", everything(), cluster(WEB_80).addHashPolicy(RouteAction.HashPolicy.newBuilder()
                .setConnectionProperties(RouteAction.HashPolicy.ConnectionProperties.newBuilder().setSourceIp(true)))))),
        new Case("other algorithms hash nothing", null,
            new TrafficPolicy("p", "demo", ref("web"), new LoadBalancer(Algorithm.LEAST_REQUEST, "x-user"), null, null,
                null),
            List.of(named("default", everything(), cluster(WEB_80)))));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void rulesMatchesBackendsAndPoliciesBecomeRoutes(Case c) {
    RouteConfiguration rc = RouteTranslation.routeConfig(MESH, WEB, HTTP_80, c.route(), c.policy());
    assertThat(rc.getName()).isEqualTo("web.demo.svc.cluster.local:80");
    assertThat(rc.getVirtualHostsList()).singleElement().satisfies(vh -> {
      assertThat(vh.getName()).isEqualTo("web.demo.svc.cluster.local:80");
      assertThat(vh.getRoutesList()).isEqualTo(c.expected().stream().map(Route.Builder::build).toList());
    });
  }

  static Stream<Object[]> proxylessHashes() {
    RouteAction.HashPolicy sourceIp = RouteAction.HashPolicy.newBuilder().setConnectionProperties(
        RouteAction.HashPolicy.ConnectionProperties.newBuilder().setSourceIp(true)).build();
    RouteAction.HashPolicy header = RouteAction.HashPolicy.newBuilder().setHeader(
        RouteAction.HashPolicy.Header.newBuilder().setHeaderName("x-user")).build();
    RouteAction.HashPolicy channel = RouteAction.HashPolicy.newBuilder().setFilterState(
        RouteAction.HashPolicy.FilterState.newBuilder().setKey("io.grpc.channel_id")).build();
    return Stream.of(
        new Object[] {"maglev on the source IP: the gRPC channel instead", Algorithm.MAGLEV, null, List.of(channel)},
        new Object[] {"ring hash on the source IP: the gRPC channel instead", Algorithm.RING_HASH, null,
            List.of(channel)},
        new Object[] {"a header: the same", Algorithm.MAGLEV, "x-user", List.of(header)},
        new Object[] {"no hashing: the same", Algorithm.ROUND_ROBIN, null, List.of()});
  }

  /**
   * gRPC cannot hash the caller's IP address (its calls would get no affinity): a proxyless client's routes hash its
   * channel instead, so one channel's calls keep one backend; nothing else of the routes differs.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("proxylessHashes")
  void proxylessClientsHashTheirChannelWhereOthersHashTheSourceIp(String name, Algorithm algorithm, String header,
      List<RouteAction.HashPolicy> expected) throws Exception {
    TrafficPolicy policy = new TrafficPolicy("p", "demo", ref("web"), new LoadBalancer(algorithm, header), null, null,
        null);
    RouteConfiguration rc = RouteTranslation.routeConfig(MESH, WEB, HTTP_80, null, policy);
    Snapshot.Variant variant = RouteTranslation.forProxyless(rc);
    RouteConfiguration served = variant == null ? rc : variant.resource().body().unpack(RouteConfiguration.class);
    assertThat(served.getVirtualHosts(0).getRoutes(0).getRoute().getHashPolicyList()).isEqualTo(expected);
    assertThat(served.toBuilder().setVirtualHosts(0, served.getVirtualHosts(0).toBuilder().setRoutes(0,
        served.getVirtualHosts(0).getRoutes(0).toBuilder().setRoute(served.getVirtualHosts(0).getRoutes(0).getRoute()
            .toBuilder().clearHashPolicy().addAllHashPolicy(rc.getVirtualHosts(0).getRoutes(0).getRoute()
                .getHashPolicyList())))).build()).as("nothing else differs").isEqualTo(rc);
    if (expected.equals(rc.getVirtualHosts(0).getRoutes(0).getRoute().getHashPolicyList())) {
      assertThat(variant).isNull();
    } else {
      assertThat(variant.note()).contains("io.grpc.channel_id").contains("source IP");
    }
  }

  static Stream<Object[]> domains() {
    return Stream.of(
        new Object[] {"with a VIP", WEB, List.of("web.demo.svc.cluster.local", "web.demo.svc.cluster.local:80",
            "web.demo.svc", "web.demo.svc:80", "web.demo", "web.demo:80", "10.96.0.10", "10.96.0.10:80", "*")},
        new Object[] {"headless", CANARY, List.of("canary.demo.svc.cluster.local", "canary.demo.svc.cluster.local:80",
            "canary.demo.svc", "canary.demo.svc:80", "canary.demo", "canary.demo:80", "*")},
        new Object[] {"an IPv6 VIP in brackets", service("v6", "fd00::10", HTTP_80), List.of(
            "v6.demo.svc.cluster.local", "v6.demo.svc.cluster.local:80", "v6.demo.svc", "v6.demo.svc:80", "v6.demo",
            "v6.demo:80", "[fd00::10]", "[fd00::10]:80", "*")});
  }

  /**
   * A route configuration belongs to one service port, and a client reaches it only once it chose that service (its
   * listener matched the VIP:port, or it dialed {@code xds:///<fqdn>:<port>}): so a request whose Host or
   * {@code :authority} is none of the service's names (a DNS alias, {@code localhost:8080} through a port-forward, no
   * Host at all) still takes the service's routes, with Envoy and proxyless gRPC as with the node proxies, instead of
   * Envoy's 404 NR. The service's names stay listed first (exact matches win).
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("domains")
  void theVirtualHostAnswersToEveryNameOfTheServiceAndToAnyOtherAuthority(String name, Service s,
      List<String> expected) {
    assertThat(RouteTranslation.routeConfig(mesh(List.of(s), List.of(), List.of()), s, HTTP_80, null, null)
        .getVirtualHosts(0).getDomainsList()).containsExactlyElementsOf(expected);
  }

  @Test
  void aRetryWithStatusCodesAlreadyNamingTheConditionDoesNotRepeatIt() {
    RetryPolicy p = RouteTranslation.retry(new Retry(1, List.of("retriable-status-codes"), null, null, null,
        List.of(503)));
    assertThat(p.getRetryOn()).isEqualTo("retriable-status-codes");
    assertThat(p.hasRetryBackOff()).isFalse();
    assertThat(p.hasPerTryTimeout()).isFalse();
  }
}
