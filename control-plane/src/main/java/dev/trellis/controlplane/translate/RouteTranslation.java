package dev.trellis.controlplane.translate;

import com.google.protobuf.UInt32Value;
import dev.trellis.controlplane.model.HttpRoute;
import dev.trellis.controlplane.model.Mesh;
import dev.trellis.controlplane.model.Service;
import dev.trellis.controlplane.model.ServicePort;
import dev.trellis.controlplane.model.TrafficPolicy;
import dev.trellis.xds.cache.Snapshot;
import dev.trellis.xds.resource.ResourceType;
import dev.trellis.xds.resource.XdsResource;
import io.envoyproxy.envoy.config.route.v3.HeaderMatcher;
import io.envoyproxy.envoy.config.route.v3.RetryPolicy;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteAction;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.RouteMatch;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;
import io.envoyproxy.envoy.config.route.v3.WeightedCluster;
import io.envoyproxy.envoy.type.matcher.v3.RegexMatcher;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * HTTP service port + the route attached to it → a {@link RouteConfiguration} with one virtual host
 * answering to every name of the service (fqdn, short forms, VIP, each with and without the port) and to any other
 * authority ({@code *}).
 * Rules become routes in order; a rule with several matches becomes several routes; a port without a
 * route gets one catch-all route to its own cluster. Pure.
 */
final class RouteTranslation {

  private RouteTranslation() {}

  static RouteConfiguration routeConfig(Mesh mesh, Service service, ServicePort port, HttpRoute route,
      TrafficPolicy policy) {
    String fqdn = mesh.fqdn(service);
    String name = XdsNames.routeConfig(fqdn, port.port());
    VirtualHost.Builder vh = VirtualHost.newBuilder().setName(name).addAllDomains(domains(service, port, fqdn));
    if (route == null) {
      vh.addRoutes(Route.newBuilder().setName("default")
          .setMatch(RouteMatch.newBuilder().setPrefix("/"))
          .setRoute(action(policy).setCluster(XdsNames.cluster(fqdn, port.port()))));
    } else {
      int ruleIndex = 0;
      for (HttpRoute.Rule rule : route.rules()) {
        List<RouteMatch> matches = rule.matches().isEmpty() ? List.of(RouteMatch.newBuilder().setPrefix("/").build())
            : rule.matches().stream().map(RouteTranslation::match).toList();
        int matchIndex = 0;
        for (RouteMatch match : matches) {
          vh.addRoutes(Route.newBuilder()
              .setName(route.ref() + "/rule-" + ruleIndex + "/match-" + matchIndex++)
              .setMatch(match)
              .setRoute(ruleAction(mesh, port, rule, policy)));
        }
        ruleIndex++;
      }
    }
    return RouteConfiguration.newBuilder().setName(name).addVirtualHosts(vh).build();
  }

  static Set<String> domains(Service service, ServicePort port, String fqdn) {
    Set<String> names = new LinkedHashSet<>();
    for (String n : List.of(fqdn, service.name() + "." + service.namespace() + ".svc",
        service.name() + "." + service.namespace())) {
      names.add(n);
      names.add(n + ":" + port.port());
    }
    if (service.vip() != null) {
      String vip = service.vip().contains(":") ? "[" + service.vip() + "]" : service.vip();
      names.add(vip);
      names.add(vip + ":" + port.port());
    }
    // Any other authority too: a client reaches this configuration only after choosing the service (its listener
    // matched the VIP:port, or it dialed the service by name), so an alias, a port-forward's localhost:port or a
    // missing Host still means this service, for Envoy as for the node proxies (no 404 NR).
    names.add("*");
    return names;
  }

  private static RouteMatch match(HttpRoute.Match m) {
    RouteMatch.Builder b = RouteMatch.newBuilder();
    if (m.path() == null) {
      b.setPrefix("/");
    } else {
      switch (m.path().type()) {
        case EXACT -> b.setPath(m.path().value());
        case PREFIX -> b.setPrefix(m.path().value());
        case REGEX -> b.setSafeRegex(RegexMatcher.newBuilder().setRegex(m.path().value()));
      }
    }
    for (HttpRoute.HeaderMatch h : m.headers()) {
      StringMatcher sm = h.type() == HttpRoute.HeaderType.EXACT ? StringMatcher.newBuilder().setExact(h.value()).build()
          : StringMatcher.newBuilder().setSafeRegex(RegexMatcher.newBuilder().setRegex(h.value())).build();
      b.addHeaders(HeaderMatcher.newBuilder().setName(h.name()).setStringMatch(sm));
    }
    if (m.method() != null) {
      b.addHeaders(HeaderMatcher.newBuilder().setName(":method")
          .setStringMatch(StringMatcher.newBuilder().setExact(m.method())));
    }
    return b.build();
  }

  private static RouteAction.Builder ruleAction(Mesh mesh, ServicePort port, HttpRoute.Rule rule, TrafficPolicy policy) {
    RouteAction.Builder a = action(policy);
    List<HttpRoute.Backend> live = rule.backends().stream().filter(b -> b.weight() > 0).toList();
    if (live.size() == 1) {
      a.setCluster(backendCluster(mesh, port, live.getFirst()));
    } else {
      WeightedCluster.Builder wc = WeightedCluster.newBuilder();
      for (HttpRoute.Backend b : live) {
        wc.addClusters(WeightedCluster.ClusterWeight.newBuilder().setName(backendCluster(mesh, port, b))
            .setWeight(UInt32Value.of(b.weight())));
      }
      a.setWeightedClusters(wc);
    }
    if (rule.timeout() != null) {
      // Envoy reads timeout; gRPC clients read max_stream_duration (gRFC A31).
      a.setTimeout(Protos.duration(rule.timeout()));
      a.setMaxStreamDuration(RouteAction.MaxStreamDuration.newBuilder().setMaxStreamDuration(Protos.duration(rule.timeout())));
    }
    if (rule.retry() != null) {
      a.setRetryPolicy(retry(rule.retry()));
    }
    return a;
  }

  private static String backendCluster(Mesh mesh, ServicePort port, HttpRoute.Backend b) {
    Service target = mesh.service(b.service()).orElseThrow(() -> new IllegalStateException("unknown backend " + b.service()));
    return XdsNames.cluster(mesh.fqdn(target), b.port() != null ? b.port() : port.port());
  }

  private static RouteAction.Builder action(TrafficPolicy policy) {
    RouteAction.Builder a = RouteAction.newBuilder();
    if (policy != null && policy.loadBalancer() != null && (policy.loadBalancer().algorithm() == TrafficPolicy.Algorithm.RING_HASH
        || policy.loadBalancer().algorithm() == TrafficPolicy.Algorithm.MAGLEV)) {
      String header = policy.loadBalancer().hashHeader();
      a.addHashPolicy(header != null
          ? RouteAction.HashPolicy.newBuilder().setHeader(RouteAction.HashPolicy.Header.newBuilder().setHeaderName(header))
          : RouteAction.HashPolicy.newBuilder().setConnectionProperties(
              RouteAction.HashPolicy.ConnectionProperties.newBuilder().setSourceIp(true)));
    }
    return a;
  }

  /** The filter state gRPC hashes for one channel (gRFC A42). */
  static final String GRPC_CHANNEL_ID = "io.grpc.channel_id";

  /**
   * The route configuration a {@link dev.trellis.xds.resource.ClientKind#PROXYLESS} client is served in place of
   * {@code rc}, with why; null when it gets {@code rc} itself. gRPC cannot hash the caller's IP address (a route hashing
   * it would give each call a random hash: no affinity), so its routes hash the client's channel instead, the nearest
   * thing to "the same caller": one channel's calls keep one backend.
   */
  static Snapshot.Variant forProxyless(RouteConfiguration rc) {
    RouteConfiguration.Builder b = rc.toBuilder();
    boolean changed = false;
    for (VirtualHost.Builder vh : b.getVirtualHostsBuilderList()) {
      for (Route.Builder r : vh.getRoutesBuilderList()) {
        if (!r.hasRoute()) {
          continue;
        }
        for (RouteAction.HashPolicy.Builder h : r.getRouteBuilder().getHashPolicyBuilderList()) {
          if (h.hasConnectionProperties() && h.getConnectionProperties().getSourceIp()) {
            h.setFilterState(RouteAction.HashPolicy.FilterState.newBuilder().setKey(GRPC_CHANNEL_ID));
            changed = true;
          }
        }
      }
    }
    if (!changed) {
      return null;
    }
    return new Snapshot.Variant(XdsResource.of(ResourceType.ROUTE, b.build()), "hash on " + GRPC_CHANNEL_ID
        + " instead of the source IP: gRPC cannot hash the caller's address; one channel's calls keep one backend");
  }

  static RetryPolicy retry(HttpRoute.Retry r) {
    List<String> on = new ArrayList<>(r.on());
    if (!r.statusCodes().isEmpty() && !on.contains("retriable-status-codes")) {
      on.add("retriable-status-codes");
    }
    RetryPolicy.Builder b = RetryPolicy.newBuilder().setRetryOn(String.join(",", on))
        .setNumRetries(UInt32Value.of(r.attempts()));
    if (r.perTryTimeout() != null) {
      b.setPerTryTimeout(Protos.duration(r.perTryTimeout()));
    }
    if (r.backoffBase() != null) {
      RetryPolicy.RetryBackOff.Builder backoff = RetryPolicy.RetryBackOff.newBuilder()
          .setBaseInterval(Protos.duration(r.backoffBase()));
      if (r.backoffMax() != null) {
        backoff.setMaxInterval(Protos.duration(r.backoffMax()));
      }
      b.setRetryBackOff(backoff);
    }
    r.statusCodes().forEach(b::addRetriableStatusCodes);
    return b.build();
  }
}
