package dev.trellis.proxy.admin;

import dev.trellis.proxy.cluster.ClusterRuntime;
import dev.trellis.proxy.cluster.Host;
import dev.trellis.proxy.identity.CertificateManager;
import dev.trellis.proxy.resilience.CircuitBreaker;
import dev.trellis.telemetry.metrics.MetricsPipeline;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.Meter;
import io.opentelemetry.api.metrics.ObservableLongMeasurement;
import java.util.Locale;
import java.util.function.LongSupplier;
import java.util.function.ToLongFunction;

/**
 * The node proxy's own metrics (readiness, config, pools, inbound answers, refusals, SVIDs, clusters, breakers,
 * endpoints) as OpenTelemetry instruments read from an {@link AdminView} at each collection. They go through the
 * process's one {@link MetricsPipeline}, beside the mesh's request and connection metrics, so {@code /metrics} is one
 * rendering and an OTLP exporter receives them too. The Prometheus names are the ones the admin port always served
 * (docs/node-proxy-operations.md): {@code trellis.proxy.refusals}, a counter, is {@code trellis_proxy_refusals_total}.
 */
public final class ProxyMetrics {

  static final AttributeKey<String> VERSION = AttributeKey.stringKey("version");
  static final AttributeKey<String> STATUS = AttributeKey.stringKey("status");
  static final AttributeKey<String> REASON = AttributeKey.stringKey("reason");
  static final AttributeKey<String> LISTENER = AttributeKey.stringKey("listener");
  static final AttributeKey<String> IDENTITY = AttributeKey.stringKey("identity");
  static final AttributeKey<String> CLUSTER = AttributeKey.stringKey("cluster");
  static final AttributeKey<String> RESOURCE = AttributeKey.stringKey("resource");
  static final AttributeKey<String> HEALTH = AttributeKey.stringKey("health");

  private ProxyMetrics() {}

  /**
   * Registers the instruments; they read {@code view} whenever the pipeline collects (a scrape, an OTLP push).
   *
   * @param ticker nanoseconds, the clock outlier detection uses (which endpoints are ejected now)
   */
  public static void register(MetricsPipeline pipeline, AdminView view, LongSupplier ticker) {
    Meter meter = pipeline.meter();
    meter.gaugeBuilder("trellis.proxy.ready").ofLongs()
        .setDescription("1 when the proxy has its config and every local identity its SVID")
        .buildWithCallback(m -> m.record(view.ready() ? 1 : 0));
    pipeline.info("trellis.proxy.config.info", "the xDS view in use (version label)",
        () -> Attributes.of(VERSION, Long.toString(view.config().version())));
    meter.gaugeBuilder("trellis.proxy.hbone_connections").ofLongs().setUnit("{connection}")
        .setDescription("pooled outbound HBONE connections")
        .buildWithCallback(m -> m.record(view.hboneConnections()));
    meter.gaugeBuilder("trellis.proxy.upstream_connections").ofLongs().setUnit("{connection}")
        .setDescription("pooled upstream HTTP connections")
        .buildWithCallback(m -> m.record(view.upstreamConnections()));
    meter.counterBuilder("trellis.proxy.inbound.requests").setUnit("{request}")
        .setDescription("inbound tunnel and plaintext requests by answer")
        .buildWithCallback(m -> view.inboundByStatus().forEach((status, n) ->
            m.record(n, Attributes.of(STATUS, Integer.toString(status)))));
    meter.counterBuilder("trellis.proxy.inbound.unobserved_connections").setUnit("{connection}")
        .setDescription("inbound connections to HTTP/1.1 ports whose requests telemetry could not follow, by reason")
        .buildWithCallback(m -> view.unobservedConnections().forEach((reason, n) ->
            m.record(n, Attributes.of(REASON, reason))));
    meter.counterBuilder("trellis.proxy.drain.closed_connections").setUnit("{connection}")
        .setDescription("connections the drain on SIGTERM closed at --drain-timeout (raw TCP streams, requests that "
            + "did not finish)")
        .buildWithCallback(m -> m.record(view.drainClosedConnections()));
    meter.counterBuilder("trellis.proxy.refusals").setUnit("{refusal}")
        .setDescription("connections and streams the proxy refused, by listener (hbone, outbound, inbound) and reason "
            + "(not_tls, no_sni, tls_handshake, malformed, identity_mismatch, ...)")
        .buildWithCallback(m -> view.refusals().forEach((listener, byReason) -> byReason.forEach((reason, n) ->
            m.record(n, Attributes.of(LISTENER, listener, REASON, reason)))));
    meter.gaugeBuilder("trellis.proxy.certificate.expiry").ofLongs().setUnit("s")
        .setDescription("not-after of each local identity's SVID (Unix seconds)")
        .buildWithCallback(m -> {
          for (CertificateManager.IdentityStatus s : view.identities()) {
            if (s.notAfter() != null) {
              m.record(s.notAfter().getEpochSecond(), Attributes.of(IDENTITY, s.identity().toString()));
            }
          }
        });
    meter.gaugeBuilder("trellis.proxy.certificate.ready").ofLongs()
        .setDescription("1 when the identity has a valid SVID")
        .buildWithCallback(m -> view.identities().forEach(s ->
            m.record(s.ready() ? 1 : 0, Attributes.of(IDENTITY, s.identity().toString()))));
    clusterCounter(meter, view, "requests", "requests routed to the cluster", s -> s.requests.get());
    clusterCounter(meter, view, "retries", "retry attempts", s -> s.retries.get());
    clusterCounter(meter, view, "retry_overflows", "retries refused by the retry budget or max retries",
        s -> s.retriesOverflowed.get());
    clusterCounter(meter, view, "connect_failures", "upstream connection failures", s -> s.connectFailures.get());
    clusterCounter(meter, view, "timeouts", "route and per-try timeouts", s -> s.timeouts.get());
    clusterCounter(meter, view, "upstream_5xx", "attempts that ended in a server failure", s -> s.responses5xx.get());
    clusterCounter(meter, view, "ejections", "outlier ejections", s -> s.ejections.get());
    meter.counterBuilder("trellis.proxy.cluster.breaker.overflows").setUnit("{request}")
        .setDescription("circuit-breaker overflows (local 503, flag UO)")
        .buildWithCallback(m -> breakers(view, m, CircuitBreaker::overflows));
    meter.gaugeBuilder("trellis.proxy.cluster.breaker.in_use").ofLongs()
        .setDescription("circuit-breaker slots in use")
        .buildWithCallback(m -> breakers(view, m, CircuitBreaker::used));
    meter.gaugeBuilder("trellis.proxy.cluster.breaker.limit").ofLongs()
        .setDescription("circuit-breaker limit")
        .buildWithCallback(m -> breakers(view, m, CircuitBreaker::limit));
    meter.gaugeBuilder("trellis.proxy.cluster.endpoints").ofLongs().setUnit("{endpoint}")
        .setDescription("endpoints by health")
        .buildWithCallback(m -> {
          long now = ticker.getAsLong();
          for (ClusterRuntime c : view.clusters()) {
            long ejected = 0;
            for (Host h : c.hosts()) {
              if (h.ejectedAt(now)) {
                ejected++;
              }
            }
            m.record(c.hosts().size() - ejected, Attributes.of(CLUSTER, c.name(), HEALTH, "healthy"));
            m.record(ejected, Attributes.of(CLUSTER, c.name(), HEALTH, "ejected"));
          }
        });
  }

  /** {@code trellis_proxy_cluster_<name>_total{cluster}}. */
  private static void clusterCounter(Meter meter, AdminView view, String name, String description,
      ToLongFunction<ClusterRuntime.Stats> value) {
    meter.counterBuilder("trellis.proxy.cluster." + name).setDescription(description)
        .buildWithCallback(m -> view.clusters().forEach(c ->
            m.record(value.applyAsLong(c.stats()), Attributes.of(CLUSTER, c.name()))));
  }

  @FunctionalInterface
  private interface BreakerValue {
    long of(CircuitBreaker breaker, CircuitBreaker.Resource resource);
  }

  private static void breakers(AdminView view, ObservableLongMeasurement m, BreakerValue value) {
    for (ClusterRuntime c : view.clusters()) {
      for (CircuitBreaker.Resource r : CircuitBreaker.Resource.values()) {
        m.record(value.of(c.breaker(), r),
            Attributes.of(CLUSTER, c.name(), RESOURCE, r.name().toLowerCase(Locale.ROOT)));
      }
    }
  }
}
