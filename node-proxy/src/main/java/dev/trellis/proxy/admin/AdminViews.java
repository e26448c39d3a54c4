package dev.trellis.proxy.admin;

import dev.trellis.proxy.cluster.ClusterRuntime;
import dev.trellis.proxy.cluster.Host;
import dev.trellis.proxy.identity.CertificateManager;
import dev.trellis.proxy.resilience.CircuitBreaker;
import dev.trellis.proxy.resilience.OutlierState;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Renders the admin port's {@code /clusters} and {@code /metrics} from values: pure functions over a
 * snapshot of the counters, so the formats are tested without sockets. {@code now} is the ticker's
 * nanoseconds (the clock outlier detection uses).
 */
final class AdminViews {

  private AdminViews() {}

  /** What {@code /metrics} shows besides the clusters. */
  record ProxyFacts(boolean ready, String configVersion, int hboneConnections, int upstreamConnections,
      Map<Integer, Long> inboundByStatus, Collection<CertificateManager.IdentityStatus> identities,
      Map<String, Long> unobservedConnections, Map<String, Map<String, Long>> refusals) {}

  /**
   * One block per cluster: spec, breaker limits with what is in use and overflow counts, request
   * counters, then one line per endpoint with its health (ejected and for how long, consecutive
   * failures, ejections so far) and active requests.
   */
  static String clusters(Collection<ClusterRuntime> clusters, long now) {
    StringBuilder b = new StringBuilder();
    for (ClusterRuntime c : sorted(clusters)) {
      b.append(c.name()).append(" lb=").append(c.spec().lb().name().toLowerCase(Locale.ROOT)).append('\n');
      CircuitBreaker breaker = c.breaker();
      b.append("  breaker");
      for (CircuitBreaker.Resource r : CircuitBreaker.Resource.values()) {
        b.append(' ').append(r.name().toLowerCase(Locale.ROOT)).append('=').append(breaker.used(r)).append('/')
            .append(breaker.limit(r)).append(" overflow=").append(breaker.overflows(r));
      }
      b.append('\n');
      ClusterRuntime.Stats s = c.stats();
      b.append("  requests=").append(s.requests.get()).append(" retries=").append(s.retries.get())
          .append(" retry_overflow=").append(s.retriesOverflowed.get()).append(" connect_failures=")
          .append(s.connectFailures.get()).append(" timeouts=").append(s.timeouts.get()).append(" upstream_5xx=")
          .append(s.responses5xx.get()).append(" ejections=").append(s.ejections.get()).append('\n');
      for (Host h : c.hosts()) {
        OutlierState o = h.outlier();
        b.append("  ").append(h.key()).append(' ').append(health(h, now)).append(" weight=")
            .append(h.endpoint().weight()).append(" active=").append(h.active()).append(" consecutive_failures=")
            .append(o.consecutive()).append(" ejections=").append(o.ejections())
            .append(h.endpoint().inMesh() ? " hbone " + h.endpoint().identity() : " plaintext").append('\n');
      }
    }
    return b.toString();
  }

  private static String health(Host h, long now) {
    if (!h.ejectedAt(now)) {
      return "healthy";
    }
    long millis = (h.outlier().ejectedUntil() - now) / 1_000_000L;
    return "ejected (" + millis + " ms left)";
  }

  /** Prometheus text exposition (format 0.0.4) of the proxy's counters. */
  static String metrics(Collection<ClusterRuntime> clusters, ProxyFacts facts, long now) {
    Exposition e = new Exposition();
    e.family("trellis_proxy_ready", "gauge", "1 when the proxy has its config and every local identity its SVID");
    e.sample("trellis_proxy_ready", Map.of(), facts.ready() ? 1 : 0);
    e.family("trellis_proxy_config_info", "gauge", "the xDS view in use (version label)");
    e.sample("trellis_proxy_config_info", Map.of("version", facts.configVersion()), 1);
    e.family("trellis_proxy_hbone_connections", "gauge", "pooled outbound HBONE connections");
    e.sample("trellis_proxy_hbone_connections", Map.of(), facts.hboneConnections());
    e.family("trellis_proxy_upstream_connections", "gauge", "pooled upstream HTTP connections");
    e.sample("trellis_proxy_upstream_connections", Map.of(), facts.upstreamConnections());
    e.family("trellis_proxy_inbound_requests_total", "counter", "inbound tunnel and plaintext requests by answer");
    new TreeMap<>(facts.inboundByStatus()).forEach((status, n) ->
        e.sample("trellis_proxy_inbound_requests_total", Map.of("status", Integer.toString(status)), n));
    e.family("trellis_proxy_inbound_unobserved_connections_total", "counter",
        "inbound connections to HTTP/1.1 ports whose requests telemetry could not follow, by reason");
    facts.unobservedConnections().forEach((reason, n) ->
        e.sample("trellis_proxy_inbound_unobserved_connections_total", Map.of("reason", reason), n));
    e.family("trellis_proxy_refusals_total", "counter", "connections and streams the proxy refused, by listener "
        + "(hbone, outbound, inbound) and reason (not_tls, no_sni, tls_handshake, malformed, identity_mismatch, ...)");
    facts.refusals().forEach((listener, byReason) -> byReason.forEach((reason, n) ->
        e.sample("trellis_proxy_refusals_total", Map.of("listener", listener, "reason", reason), n)));
    e.family("trellis_proxy_certificate_expiry_seconds", "gauge", "not-after of each local identity's SVID (Unix seconds)");
    e.family("trellis_proxy_certificate_ready", "gauge", "1 when the identity has a valid SVID");
    List<CertificateManager.IdentityStatus> ids = facts.identities().stream()
        .sorted(Comparator.comparing(s -> s.identity().toString())).toList();
    for (CertificateManager.IdentityStatus s : ids) {
      Map<String, String> l = Map.of("identity", s.identity().toString());
      e.sample("trellis_proxy_certificate_ready", l, s.ready() ? 1 : 0);
      if (s.notAfter() != null) {
        e.sample("trellis_proxy_certificate_expiry_seconds", l, s.notAfter().getEpochSecond());
      }
    }
    List<ClusterRuntime> sorted = sorted(clusters);
    counter(e, sorted, "requests", "requests routed to the cluster", s -> s.requests.get());
    counter(e, sorted, "retries", "retry attempts", s -> s.retries.get());
    counter(e, sorted, "retry_overflows", "retries refused by the retry budget or max retries", s -> s.retriesOverflowed.get());
    counter(e, sorted, "connect_failures", "upstream connection failures", s -> s.connectFailures.get());
    counter(e, sorted, "timeouts", "route and per-try timeouts", s -> s.timeouts.get());
    counter(e, sorted, "upstream_5xx", "attempts that ended in a server failure", s -> s.responses5xx.get());
    counter(e, sorted, "ejections", "outlier ejections", s -> s.ejections.get());
    e.family("trellis_proxy_cluster_breaker_overflows_total", "counter", "circuit-breaker overflows (local 503, flag UO)");
    e.family("trellis_proxy_cluster_breaker_in_use", "gauge", "circuit-breaker slots in use");
    e.family("trellis_proxy_cluster_breaker_limit", "gauge", "circuit-breaker limit");
    for (ClusterRuntime c : sorted) {
      for (CircuitBreaker.Resource r : CircuitBreaker.Resource.values()) {
        Map<String, String> l = Map.of("cluster", c.name(), "resource", r.name().toLowerCase(Locale.ROOT));
        e.sample("trellis_proxy_cluster_breaker_overflows_total", l, c.breaker().overflows(r));
        e.sample("trellis_proxy_cluster_breaker_in_use", l, c.breaker().used(r));
        e.sample("trellis_proxy_cluster_breaker_limit", l, c.breaker().limit(r));
      }
    }
    e.family("trellis_proxy_cluster_endpoints", "gauge", "endpoints by health");
    for (ClusterRuntime c : sorted) {
      long ejected = c.hosts().stream().filter(h -> h.ejectedAt(now)).count();
      e.sample("trellis_proxy_cluster_endpoints", Map.of("cluster", c.name(), "health", "healthy"), c.hosts().size() - ejected);
      e.sample("trellis_proxy_cluster_endpoints", Map.of("cluster", c.name(), "health", "ejected"), ejected);
    }
    return e.toString();
  }

  private static void counter(Exposition e, List<ClusterRuntime> clusters, String name, String help,
      java.util.function.ToLongFunction<ClusterRuntime.Stats> value) {
    String family = "trellis_proxy_cluster_" + name + "_total";
    e.family(family, "counter", help);
    for (ClusterRuntime c : clusters) {
      e.sample(family, Map.of("cluster", c.name()), value.applyAsLong(c.stats()));
    }
  }

  private static List<ClusterRuntime> sorted(Collection<ClusterRuntime> clusters) {
    return clusters.stream().sorted(Comparator.comparing(ClusterRuntime::name)).toList();
  }

  /** Builds the text format: HELP/TYPE once per family, labels sorted and escaped. */
  private static final class Exposition {
    private final StringBuilder b = new StringBuilder();

    void family(String name, String type, String help) {
      b.append("# HELP ").append(name).append(' ').append(help).append('\n');
      b.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    void sample(String name, Map<String, String> labels, long value) {
      b.append(name);
      if (!labels.isEmpty()) {
        b.append('{');
        String sep = "";
        for (Map.Entry<String, String> l : new TreeMap<>(labels).entrySet()) {
          b.append(sep).append(l.getKey()).append("=\"").append(escape(l.getValue())).append('"');
          sep = ",";
        }
        b.append('}');
      }
      b.append(' ').append(value).append('\n');
    }

    private static String escape(String v) {
      return v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }

    @Override
    public String toString() {
      return b.toString();
    }
  }
}
