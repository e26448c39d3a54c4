package dev.trellis.proxy.outbound;

import static java.util.Objects.requireNonNull;

import dev.trellis.proxy.cluster.Clusters;
import dev.trellis.proxy.http.HttpLimits;
import dev.trellis.proxy.http.UpstreamDialer;
import dev.trellis.proxy.http.UpstreamPool;
import dev.trellis.proxy.identity.CertificateManager;
import dev.trellis.proxy.state.ProxyConfig;
import dev.trellis.proxy.tunnel.HboneConnector;
import dev.trellis.telemetry.Telemetry;
import io.netty.channel.EventLoop;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * What outbound listeners share: the config, the clusters' run-time state, and per event loop an
 * HBONE connector and an upstream HTTP pool (so upstream connections live on the downstream's loop).
 */
public final class OutboundServices implements AutoCloseable {

  private final Supplier<ProxyConfig> config;
  private final Clusters clusters;
  private final CertificateManager certificates;
  private final HboneDialing dialing;
  private final int connectTimeoutMillis;
  private final LongSupplier ticker;
  private final HttpLimits limits;
  private final Telemetry telemetry;
  private final boolean observeRequests;
  private final Map<EventLoop, HboneConnector> connectors = new ConcurrentHashMap<>();
  private final Map<EventLoop, UpstreamPool> pools = new ConcurrentHashMap<>();

  /**
   * @param hbonePort the port peers' HBONE servers listen on (15008)
   * @param ticker nanoseconds, for outlier detection and deadlines
   */
  public OutboundServices(Supplier<ProxyConfig> config, Clusters clusters, CertificateManager certificates, int hbonePort,
      int connectTimeoutMillis, LongSupplier ticker) {
    this(config, clusters, certificates, hbonePort, connectTimeoutMillis, ticker, HttpLimits.DEFAULTS);
  }

  public OutboundServices(Supplier<ProxyConfig> config, Clusters clusters, CertificateManager certificates, int hbonePort,
      int connectTimeoutMillis, LongSupplier ticker, HttpLimits limits) {
    this(config, clusters, certificates, HboneDialing.nodeAddresses(hbonePort), connectTimeoutMillis, ticker, limits);
  }

  /** @param dialing where HBONE tunnels are dialed (node addresses in local mode, pod addresses with capture) */
  public OutboundServices(Supplier<ProxyConfig> config, Clusters clusters, CertificateManager certificates,
      HboneDialing dialing, int connectTimeoutMillis, LongSupplier ticker, HttpLimits limits) {
    this(config, clusters, certificates, dialing, connectTimeoutMillis, ticker, limits,
        Telemetry.disabled());
  }

  /** @param telemetry spans, metrics and access log of the requests through this proxy */
  public OutboundServices(Supplier<ProxyConfig> config, Clusters clusters, CertificateManager certificates,
      HboneDialing dialing, int connectTimeoutMillis, LongSupplier ticker, HttpLimits limits,
      Telemetry telemetry) {
    this.telemetry = requireNonNull(telemetry, "telemetry");
    this.observeRequests = telemetry != Telemetry.disabled();
    this.config = requireNonNull(config, "config");
    this.clusters = requireNonNull(clusters, "clusters");
    this.certificates = requireNonNull(certificates, "certificates");
    this.dialing = requireNonNull(dialing, "dialing");
    this.connectTimeoutMillis = connectTimeoutMillis;
    this.ticker = requireNonNull(ticker, "ticker");
    this.limits = requireNonNull(limits, "limits");
  }

  public Telemetry telemetry() {
    return telemetry;
  }

  /** Whether requests are observed (telemetry on): destinations then parse HTTP on every HTTP port. */
  boolean observesRequests() {
    return observeRequests;
  }

  private final ConcurrentMap<String, LongAdder> unobserved =
      new ConcurrentHashMap<>();

  public HttpLimits limits() {
    return limits;
  }

  public ProxyConfig config() {
    return config.get();
  }

  Supplier<ProxyConfig> configSupplier() {
    return config;
  }

  Clusters clusters() {
    return clusters;
  }

  HboneDialing dialing() {
    return dialing;
  }

  public int connectTimeoutMillis() {
    return connectTimeoutMillis;
  }

  public LongSupplier ticker() {
    return ticker;
  }

  HboneConnector connector(EventLoop loop) {
    return connectors.computeIfAbsent(loop, l -> new HboneConnector(l, certificates, connectTimeoutMillis));
  }

  UpstreamPool pool(EventLoop loop) {
    return pools.computeIfAbsent(loop, l -> new UpstreamPool(l, dialer(l), connectTimeoutMillis, limits));
  }

  /** How upstream HTTP connections on {@code loop} reach an endpoint: HBONE or direct TCP. */
  public UpstreamDialer dialer(EventLoop loop) {
    return new EndpointDialer(loop, connector(loop), dialing, connectTimeoutMillis);
  }

  /** Counts an inbound connection whose HTTP stopped being observed, by why (a {@code /metrics} counter). */
  void countUnobserved(String reason) {
    unobserved.computeIfAbsent(reason, r -> new LongAdder()).increment();
  }

  /** Inbound connections to HTTP ports that could not be observed per request, by reason. */
  public Map<String, Long> unobservedConnections() {
    Map<String, Long> counts = new TreeMap<>();
    unobserved.forEach((reason, n) -> counts.put(reason, n.sum()));
    return counts;
  }

  /** Pooled HBONE connections across event loops (approximate: read without stopping the loops). */
  public int hboneConnections() {
    return connectors.values().stream().mapToInt(HboneConnector::connections).sum();
  }

  /** Upstream HTTP connections across event loops (approximate). */
  public int upstreamConnections() {
    return pools.values().stream().mapToInt(UpstreamPool::connections).sum();
  }

  @Override
  public void close() {
    pools.forEach((loop, pool) -> loop.execute(pool::close));
  }
}
