package dev.trellis.proxy.state;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import dev.trellis.mesh.v1.Authorization;
import dev.trellis.mesh.v1.Workload;
import dev.trellis.mtls.MtlsException;
import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.proxy.route.RouteTable;
import io.envoyproxy.envoy.config.cluster.v3.CircuitBreakers;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.HealthStatus;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.HeaderMatcher;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteAction;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;
import io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds a {@link ProxyConfig} from the Envoy and Trellis resources the proxy holds. Pure: the same
 * resources always give the same config. Parts it cannot use (an unknown filter, an endpoint with no
 * address) are skipped with a warning rather than failing the whole config.
 */
public final class ProxyConfigs {

  private static final Logger log = LoggerFactory.getLogger(ProxyConfigs.class);
  static final String METADATA = "trellis";
  /** Field of the passthrough chain's {@link #METADATA} struct: the egress allow-list, a list of "address/length". */
  static final String EGRESS_ALLOW = "egress_allow_cidrs";

  private ProxyConfigs() {}

  public static ProxyConfig build(long version, Listener outbound, Collection<Cluster> clusters,
      Collection<ClusterLoadAssignment> assignments, Collection<RouteConfiguration> routes, Collection<Workload> workloads) {
    List<OutboundRule> rules = outbound == null ? List.of() : outboundRules(outbound);
    Map<String, ClusterSpec> cs = new HashMap<>();
    clusters.forEach(c -> cs.put(c.getName(), cluster(c)));
    Map<String, List<EndpointSpec>> eps = new HashMap<>();
    assignments.forEach(a -> eps.put(a.getClusterName(), endpoints(a)));
    Map<String, RouteTable> rts = new HashMap<>();
    routes.forEach(r -> rts.put(r.getName(), routeTable(r)));
    Map<String, LocalWorkload> local = new HashMap<>();
    String localNode = null;
    for (Workload w : workloads) {
      LocalWorkload lw = localWorkload(w);
      if (lw != null) {
        lw.addresses().forEach(a -> local.put(normalize(a), lw));
        localNode = localNode == null && !w.getNode().isEmpty() ? w.getNode() : localNode;
      }
    }
    return new ProxyConfig(version, rules, cs, eps, rts, local, outbound == null ? List.of() : egressAllow(outbound),
        outbound == null ? PathNormalization.DEFAULTS : pathNormalization(outbound),
        ProxyConfig.meshWorkloads(eps, local, localNode));
  }

  /**
   * The egress allow-list from the passthrough (default) filter chain's metadata; an entry that is no address
   * prefix is skipped with a warning.
   */
  static List<Cidr> egressAllow(Listener l) {
    Struct meta = l.getDefaultFilterChain().getMetadata().getFilterMetadataOrDefault(METADATA, Struct.getDefaultInstance());
    Value list = meta.getFieldsOrDefault(EGRESS_ALLOW, null);
    if (list == null) {
      return List.of();
    }
    List<Cidr> out = new ArrayList<>();
    for (Value v : list.getListValue().getValuesList()) {
      String s = v.getStringValue();
      int slash = s.indexOf('/');
      try {
        String address = slash < 0 ? s : s.substring(0, slash);
        int bits = InetAddress.ofLiteral(address).getAddress().length * 8;
        out.add(Cidr.of(address, slash < 0 ? bits : Integer.parseInt(s.substring(slash + 1))));
      } catch (IllegalArgumentException e) {
        log.warn("passthrough chain {}: '{}' is not an address prefix; skipped", EGRESS_ALLOW, s);
      }
    }
    return out;
  }

  /**
   * The outbound listener's {@code filter_metadata.trellis.path_normalization} ({@code escaped_slashes}: Envoy's
   * {@code REJECT_REQUEST} or {@code UNESCAPE_AND_FORWARD}; {@code path_parameters}: {@code REJECT} or {@code STRIP}).
   * Anything missing or unknown keeps the strict default.
   */
  static PathNormalization pathNormalization(Listener l) {
    Struct meta = l.getMetadata().getFilterMetadataOrDefault(METADATA, Struct.getDefaultInstance());
    Value v = meta.getFieldsOrDefault("path_normalization", null);
    if (v == null || !v.hasStructValue()) {
      return PathNormalization.DEFAULTS;
    }
    Struct s = v.getStructValue();
    return new PathNormalization(
        option(s, "escaped_slashes", PathNormalization.EscapedSlashes.class, PathNormalization.DEFAULTS.escapedSlashes()),
        option(s, "path_parameters", PathNormalization.PathParameters.class, PathNormalization.DEFAULTS.pathParameters()));
  }

  private static <E extends Enum<E>> E option(Struct s, String field, Class<E> type, E fallback) {
    String v = string(s, field);
    if (v == null) {
      return fallback;
    }
    try {
      return Enum.valueOf(type, v);
    } catch (IllegalArgumentException e) {
      log.warn("listener metadata trellis.path_normalization.{}: '{}' is not one of {}; using {}", field, v,
          Arrays.toString(type.getEnumConstants()), fallback);
      return fallback;
    }
  }

  static List<OutboundRule> outboundRules(Listener l) {
    List<OutboundRule> out = new ArrayList<>();
    for (FilterChain fc : l.getFilterChainsList()) {
      var match = fc.getFilterChainMatch();
      if (match.getPrefixRangesCount() == 0 || !match.hasDestinationPort() || fc.getFiltersCount() == 0) {
        continue;
      }
      OutboundRule.Target target = target(fc.getFilters(0));
      if (target == null) {
        log.warn("outbound filter chain {}: filter {} is not supported; skipped", fc.getName(), fc.getFilters(0).getName());
        continue;
      }
      for (var prefix : match.getPrefixRangesList()) {
        out.add(new OutboundRule(fc.getName(), Cidr.of(prefix.getAddressPrefix(), prefix.getPrefixLen().getValue()),
            match.getDestinationPort().getValue(), target));
      }
    }
    return out;
  }

  private static OutboundRule.Target target(Filter f) {
    try {
      if (f.getTypedConfig().is(HttpConnectionManager.class)) {
        HttpConnectionManager hcm = f.getTypedConfig().unpack(HttpConnectionManager.class);
        return hcm.hasRds() ? new OutboundRule.Http(hcm.getRds().getRouteConfigName()) : null;
      }
      if (f.getTypedConfig().is(TcpProxy.class)) {
        return new OutboundRule.Tcp(f.getTypedConfig().unpack(TcpProxy.class).getCluster());
      }
    } catch (InvalidProtocolBufferException e) {
      log.warn("filter {} cannot be decoded: {}", f.getName(), e.getMessage());
    }
    return null;
  }

  static ClusterSpec cluster(Cluster c) {
    ClusterSpec.LbAlgorithm lb = switch (c.getLbPolicy()) {
      case LEAST_REQUEST -> ClusterSpec.LbAlgorithm.LEAST_REQUEST;
      case RING_HASH -> ClusterSpec.LbAlgorithm.RING_HASH;
      case MAGLEV -> ClusterSpec.LbAlgorithm.MAGLEV;
      case RANDOM -> ClusterSpec.LbAlgorithm.RANDOM;
      default -> ClusterSpec.LbAlgorithm.ROUND_ROBIN;
    };
    Duration connect = c.hasConnectTimeout() ? duration(c.getConnectTimeout()) : Duration.ofSeconds(5);
    ClusterSpec.Breaker b = ClusterSpec.Breaker.DEFAULTS;
    if (c.hasCircuitBreakers() && c.getCircuitBreakers().getThresholdsCount() > 0) {
      CircuitBreakers.Thresholds t = c.getCircuitBreakers().getThresholds(0);
      b = new ClusterSpec.Breaker(
          t.hasMaxConnections() ? t.getMaxConnections().getValue() : b.maxConnections(),
          t.hasMaxPendingRequests() ? t.getMaxPendingRequests().getValue() : b.maxPendingRequests(),
          t.hasMaxRequests() ? t.getMaxRequests().getValue() : b.maxRequests(),
          t.hasMaxRetries() ? t.getMaxRetries().getValue() : b.maxRetries(),
          t.hasRetryBudget() ? t.getRetryBudget().getBudgetPercent().getValue() : -1,
          t.hasRetryBudget() && t.getRetryBudget().hasMinRetryConcurrency()
              ? t.getRetryBudget().getMinRetryConcurrency().getValue() : 3);
    }
    ClusterSpec.Outlier outlier = null;
    if (c.hasOutlierDetection()) {
      var o = c.getOutlierDetection();
      outlier = new ClusterSpec.Outlier(o.hasConsecutive5Xx() ? o.getConsecutive5Xx().getValue() : 5,
          o.hasInterval() ? duration(o.getInterval()) : Duration.ofSeconds(10),
          o.hasBaseEjectionTime() ? duration(o.getBaseEjectionTime()) : Duration.ofSeconds(30),
          o.hasMaxEjectionPercent() ? o.getMaxEjectionPercent().getValue() : 10);
    }
    return new ClusterSpec(c.getName(), lb, connect, b, outlier, upstreamProtocol(c));
  }

  /** Envoy's extension key for a cluster's upstream HTTP protocol options. */
  static final String HTTP_PROTOCOL_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

  /**
   * The protocol requests to the cluster's endpoints go in, as Envoy reads it: {@code HttpProtocolOptions} in
   * {@code typed_extension_protocol_options} (explicit HTTP/1.1 or HTTP/2, or the downstream's); else the deprecated
   * cluster fields ({@code http2_protocol_options}, {@code protocol_selection}); else HTTP/1.1. {@code auto_config}
   * needs ALPN, which a plaintext hop to a workload does not have: HTTP/1.1, as Envoy falls back without TLS.
   */
  @SuppressWarnings("deprecation") // the deprecated fields are read only when the extension is absent
  static ClusterSpec.UpstreamProtocol upstreamProtocol(Cluster c) {
    Any any = c.getTypedExtensionProtocolOptionsMap().get(HTTP_PROTOCOL_OPTIONS);
    if (any != null && any.is(HttpProtocolOptions.class)) {
      try {
        HttpProtocolOptions o = any.unpack(HttpProtocolOptions.class);
        return switch (o.getUpstreamProtocolOptionsCase()) {
          case EXPLICIT_HTTP_CONFIG -> o.getExplicitHttpConfig().hasHttp2ProtocolOptions()
              ? ClusterSpec.UpstreamProtocol.HTTP2 : ClusterSpec.UpstreamProtocol.HTTP1;
          case USE_DOWNSTREAM_PROTOCOL_CONFIG -> ClusterSpec.UpstreamProtocol.DOWNSTREAM;
          case AUTO_CONFIG, UPSTREAMPROTOCOLOPTIONS_NOT_SET -> ClusterSpec.UpstreamProtocol.HTTP1;
        };
      } catch (InvalidProtocolBufferException e) {
        log.warn("cluster {}: {} cannot be decoded ({}); sending HTTP/1.1", c.getName(), HTTP_PROTOCOL_OPTIONS,
            e.getMessage());
        return ClusterSpec.UpstreamProtocol.HTTP1;
      }
    }
    if (c.getProtocolSelection() == Cluster.ClusterProtocolSelection.USE_DOWNSTREAM_PROTOCOL) {
      return ClusterSpec.UpstreamProtocol.DOWNSTREAM;
    }
    return c.hasHttp2ProtocolOptions() ? ClusterSpec.UpstreamProtocol.HTTP2 : ClusterSpec.UpstreamProtocol.HTTP1;
  }

  /**
   * The endpoints of {@code cla}. Reads the compact form (node = the locality's {@code sub_zone}, node address in the
   * locality's {@code filter_metadata.trellis.node_address}, {@code in_mesh} absent = true) and the earlier one (every
   * fact on each endpoint; a fact on the endpoint wins over the locality's), so this proxy works with a control plane
   * from before the compact form (docs/xds.md).
   */
  static List<EndpointSpec> endpoints(ClusterLoadAssignment cla) {
    List<EndpointSpec> out = new ArrayList<>();
    for (LocalityLbEndpoints l : cla.getEndpointsList()) {
      Struct localityMeta = l.getMetadata().getFilterMetadataOrDefault(METADATA, Struct.getDefaultInstance());
      String localityNode = l.getLocality().getSubZone().isEmpty() ? null : l.getLocality().getSubZone();
      String localityNodeAddress = string(localityMeta, "node_address");
      for (LbEndpoint e : l.getLbEndpointsList()) {
        if (e.getHealthStatus() != HealthStatus.HEALTHY && e.getHealthStatus() != HealthStatus.UNKNOWN) {
          continue;
        }
        var sa = e.getEndpoint().getAddress().getSocketAddress();
        if (sa.getAddress().isEmpty()) {
          continue;
        }
        Struct meta = e.getMetadata().getFilterMetadataOrDefault(METADATA, Struct.getDefaultInstance());
        SpiffeId identity = null;
        String id = string(meta, "identity");
        if (id != null) {
          try {
            identity = SpiffeId.parse(id);
          } catch (MtlsException ex) {
            log.warn("endpoint {}:{} of {} has an invalid identity: {}", sa.getAddress(), sa.getPortValue(),
                cla.getClusterName(), ex.getMessage());
          }
        }
        Value inMesh = meta.getFieldsOrDefault("in_mesh", null);
        boolean mesh = identity != null && (inMesh == null || inMesh.getBoolValue());
        String node = string(meta, "node");
        String nodeAddress = string(meta, "node_address");
        out.add(new EndpointSpec(sa.getAddress(), sa.getPortValue(), identity, node != null ? node : localityNode,
            nodeAddress != null ? nodeAddress : localityNodeAddress, mesh,
            string(meta, "workload"), l.getLocality().getSubZone(),
            e.hasLoadBalancingWeight() ? Math.max(1, e.getLoadBalancingWeight().getValue()) : 1));
      }
    }
    return List.copyOf(out);
  }

  private static String string(Struct s, String field) {
    Value v = s.getFieldsOrDefault(field, null);
    return v == null || v.getStringValue().isEmpty() ? null : v.getStringValue();
  }

  static RouteTable routeTable(RouteConfiguration rc) {
    List<RouteTable.VirtualHost> hosts = new ArrayList<>();
    for (VirtualHost vh : rc.getVirtualHostsList()) {
      Set<String> domains = new HashSet<>();
      vh.getDomainsList().forEach(d -> domains.add(d.toLowerCase(Locale.ROOT)));
      List<RouteTable.Rule> rules = new ArrayList<>();
      for (Route r : vh.getRoutesList()) {
        if (!r.hasRoute()) {
          continue;
        }
        RouteTable.Match match = match(r);
        if (match != null) {
          rules.add(new RouteTable.Rule(r.getName(), match, action(r.getRoute())));
        }
      }
      hosts.add(new RouteTable.VirtualHost(vh.getName(), domains, rules));
    }
    return new RouteTable(rc.getName(), hosts);
  }

  private static RouteTable.Match match(Route r) {
    var m = r.getMatch();
    String path = null;
    String prefix = null;
    Pattern regex = null;
    switch (m.getPathSpecifierCase()) {
      case PATH -> path = m.getPath();
      case PREFIX -> prefix = m.getPrefix();
      case SAFE_REGEX -> regex = Pattern.compile(m.getSafeRegex().getRegex());
      default -> prefix = "/";
    }
    List<RouteTable.HeaderMatch> headers = new ArrayList<>();
    for (HeaderMatcher h : m.getHeadersList()) {
      if (h.hasStringMatch() && h.getStringMatch().hasSafeRegex()) {
        headers.add(new RouteTable.HeaderMatch(h.getName().toLowerCase(Locale.ROOT), null,
            Pattern.compile(h.getStringMatch().getSafeRegex().getRegex())));
      } else if (h.hasStringMatch()) {
        headers.add(new RouteTable.HeaderMatch(h.getName().toLowerCase(Locale.ROOT), h.getStringMatch().getExact(), null));
      } else {
        log.warn("route {}: header matcher on {} is not supported; route skipped", r.getName(), h.getName());
        return null;
      }
    }
    return new RouteTable.Match(path, prefix, regex, headers);
  }

  private static RouteTable.Action action(RouteAction a) {
    List<RouteTable.WeightedCluster> clusters = new ArrayList<>();
    if (a.hasWeightedClusters()) {
      a.getWeightedClusters().getClustersList().forEach(w ->
          clusters.add(new RouteTable.WeightedCluster(w.getName(), w.getWeight().getValue())));
    } else {
      clusters.add(new RouteTable.WeightedCluster(a.getCluster(), 1));
    }
    RouteTable.RetrySpec retry = null;
    if (a.hasRetryPolicy()) {
      var p = a.getRetryPolicy();
      Set<String> on = new HashSet<>();
      for (String s : p.getRetryOn().split(",")) {
        if (!s.isBlank()) {
          on.add(s.strip());
        }
      }
      // Envoy's defaults: one retry, 25 ms base interval, max interval ten times the base.
      Duration base = p.hasRetryBackOff() ? duration(p.getRetryBackOff().getBaseInterval()) : Duration.ofMillis(25);
      Duration max = p.hasRetryBackOff() && p.getRetryBackOff().hasMaxInterval()
          ? duration(p.getRetryBackOff().getMaxInterval()) : base.multipliedBy(10);
      retry = new RouteTable.RetrySpec(on, p.hasNumRetries() ? p.getNumRetries().getValue() : 1,
          p.hasPerTryTimeout() ? duration(p.getPerTryTimeout()) : null, base, max,
          new HashSet<>(p.getRetriableStatusCodesList()));
    }
    String hashHeader = null;
    boolean hashSource = false;
    for (var h : a.getHashPolicyList()) {
      if (h.hasHeader()) {
        hashHeader = h.getHeader().getHeaderName().toLowerCase(Locale.ROOT);
      } else if (h.hasConnectionProperties() && h.getConnectionProperties().getSourceIp()) {
        hashSource = true;
      }
    }
    return new RouteTable.Action(clusters, a.hasTimeout() ? duration(a.getTimeout()) : null, retry, hashHeader, hashSource);
  }

  static LocalWorkload localWorkload(Workload w) {
    SpiffeId id;
    try {
      id = SpiffeId.parse(w.getIdentity());
    } catch (MtlsException e) {
      log.warn("workload {} has an invalid identity '{}'; ignored", w.getName(), w.getIdentity());
      return null;
    }
    LocalWorkload.MtlsMode mode = switch (w.getMtlsMode()) {
      case STRICT -> LocalWorkload.MtlsMode.STRICT;
      case DISABLE -> LocalWorkload.MtlsMode.DISABLE;
      default -> LocalWorkload.MtlsMode.PERMISSIVE;
    };
    List<AuthorizationSpec> policies = new ArrayList<>();
    for (var a : w.getAuthorizationsList()) {
      List<AuthorizationSpec.Rule> rules = new ArrayList<>();
      for (var r : a.getRulesList()) {
        Set<String> ids = new HashSet<>();
        Set<String> namespaces = new HashSet<>();
        for (String from : r.getFromList()) {
          if (from.startsWith("ns/")) {
            namespaces.add(from.substring(3));
          } else {
            ids.add(from);
          }
        }
        Set<String> methods = new HashSet<>();
        r.getMethodsList().forEach(m -> methods.add(m.toUpperCase(Locale.ROOT)));
        rules.add(new AuthorizationSpec.Rule(ids, namespaces, new HashSet<>(r.getPortsList()), methods, r.getPathsList()));
      }
      policies.add(new AuthorizationSpec(a.getName(), a.getAction() == Authorization.Action.DENY
          ? AuthorizationSpec.Action.DENY : AuthorizationSpec.Action.ALLOW, rules));
    }
    return new LocalWorkload(w.getName(), w.getNamespace(), id, w.getAddressesList(), w.getInMesh(), mode, w.getLabelsMap(),
        policies, w.getPortProtocolsMap());
  }

  /** The canonical text of an IP literal, as {@code InetAddress.getHostAddress()} writes it. */
  public static String normalize(String address) {
    try {
      return InetAddress.ofLiteral(address).getHostAddress();
    } catch (IllegalArgumentException e) {
      return address;
    }
  }

  private static Duration duration(com.google.protobuf.Duration d) {
    return Duration.ofSeconds(d.getSeconds(), d.getNanos());
  }
}
