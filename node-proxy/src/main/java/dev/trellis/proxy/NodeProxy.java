package dev.trellis.proxy;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import dev.trellis.ca.client.BearerTokenCredentials;
import dev.trellis.ca.client.CaClient;
import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.tls.TlsOptions;
import dev.trellis.proxy.admin.AdminView;
import dev.trellis.proxy.admin.ProxyAdminServer;
import dev.trellis.proxy.admin.ProxyMetrics;
import dev.trellis.proxy.cluster.Clusters;
import dev.trellis.proxy.drain.ConnectionDrain;
import dev.trellis.proxy.egress.PassthroughDialer;
import dev.trellis.proxy.entry.Arrival;
import dev.trellis.proxy.entry.CaptureServer;
import dev.trellis.proxy.entry.EntryServer;
import dev.trellis.proxy.identity.CertificateManager;
import dev.trellis.proxy.inbound.HboneServer;
import dev.trellis.proxy.inbound.HttpInspection;
import dev.trellis.proxy.inbound.InboundRecords;
import dev.trellis.proxy.inbound.PlaintextInbound;
import dev.trellis.proxy.outbound.HboneDialing;
import dev.trellis.proxy.outbound.OutboundDispatch;
import dev.trellis.proxy.outbound.OutboundServices;
import dev.trellis.proxy.refusal.Refusal;
import dev.trellis.proxy.refusal.Refusals;
import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.proxy.state.ProxyConfig;
import dev.trellis.proxy.state.ProxyState;
import dev.trellis.proxy.transport.Transport;
import dev.trellis.proxy.tunnel.HboneNames;
import dev.trellis.telemetry.Telemetry;
import dev.trellis.telemetry.metrics.MetricsPipeline;
import dev.trellis.xds.client.AdsClient;
import dev.trellis.xds.resource.ClientKind;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.grpc.ManagedChannel;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One node proxy: xDS in (through {@link AdsClient}), SVIDs for the node's workloads, the HBONE
 * server, the outbound entry and the admin port. See ARCHITECTURE.md for threads and ports.
 */
public final class NodeProxy implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(NodeProxy.class);
  /**
   * Where capture listeners bind: the IPv6 wildcard (dual stack: TPROXY hands it IPv4 and IPv6 connections
   * alike) unless the kernel has no IPv6.
   */
  private static final InetAddress ANY = InetAddress.ofLiteral(
      Files.exists(Path.of("/proc/net/if_inet6")) ? "::" : "0.0.0.0");

  /** Recovers where a redirected connection was going from its peer address (the eBPF redirection map). */
  @FunctionalInterface
  public interface RedirectLookup {
    Optional<InetSocketAddress> find(InetSocketAddress peerOfAcceptedConnection);
  }
  static final int CONNECT_TIMEOUT_MILLIS = 5000;

  private final NodeProxyOptions options;
  private final Clock clock;
  private final ScheduledExecutorService control =
      Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("trellis-proxy-control").daemon().factory());
  private final EventLoopGroup loops =
      Transport.newGroup(Math.max(2, Runtime.getRuntime().availableProcessors()), "trellis-proxy");
  private final ProxyState state = new ProxyState();
  private final InboundRecords inbound = new InboundRecords(1000);
  private final Clusters clusters = new Clusters();
  /** Nanoseconds for outlier detection, deadlines and the admin views (the only clock adapter of the data path). */
  private final LongSupplier ticker = System::nanoTime;
  /** What the listeners refused, counted for {@code /metrics} and logged at most once per kind per 10 s. */
  private final Refusals refusals = new Refusals(ticker);
  /** The downstream connections of the traffic listeners (15001, 15006, 15008), drained on SIGTERM. */
  private final ConnectionDrain connections = new ConnectionDrain(ticker);
  private ManagedChannel controlPlane;
  private AdsClient ads;
  private CertificateManager certificates;
  private HboneServer hbone;
  private OutboundServices outbound;
  private HttpInspection inspection;
  private EntryServer entry;
  private EntryServer plaintextInbound;
  private CaptureServer captureOutbound;
  private CaptureServer captureInbound;
  /** How passthrough connections leave (capture mode: as the pod), and the node's own addresses. */
  private PassthroughDialer egress;
  /** Original destinations of eBPF-redirected connections; null without eBPF lookups. */
  private final RedirectLookup redirects;
  /** The standard and configured proxy ports (computed once: the capture listener checks it per connection). */
  private final Set<Integer> ownPorts;
  private ProxyAdminServer admin;
  /** The metrics pipeline of its own with telemetry off (the admin port still serves the proxy's metrics). */
  private MetricsPipeline ownMetrics;

  public NodeProxy(NodeProxyOptions options, Clock clock) {
    this(options, clock, null);
  }

  /** @param redirects where eBPF-redirected connections were going (capture mode with eBPF), or null */
  public NodeProxy(NodeProxyOptions options, Clock clock, RedirectLookup redirects) {
    this(options, clock, redirects, Telemetry.disabled());
  }

  /** @param telemetry spans, metrics and access log of the traffic (closed with the proxy) */
  public NodeProxy(NodeProxyOptions options, Clock clock, RedirectLookup redirects,
      Telemetry telemetry) {
    this.options = requireNonNull(options, "options");
    this.clock = requireNonNull(clock, "clock");
    this.redirects = redirects;
    this.ownPorts = ownPorts(options);
    this.telemetry = requireNonNull(telemetry, "telemetry");
  }

  private final Telemetry telemetry;
  private StartupWarmup warmup = StartupWarmup.NONE;

  /** The proxy's telemetry (its metrics pipeline, when on, also carries the proxy's own metrics). */
  public Telemetry telemetry() {
    return telemetry;
  }

  /**
   * The traffic listeners share their ports ({@code SO_REUSEPORT}) so that a successor can start beside this proxy;
   * a proxy that is not started as one ({@code --listen-after-ready} zero) first makes sure nothing listens there yet,
   * else a forgotten or foreign process would silently take a share of the node's connections.
   */
  private static void refuseTakenPorts(InetAddress address, int... ports) throws IOException {
    for (int port : ports) {
      if (port <= 0) {
        continue;
      }
      try (ServerSocket probe = new ServerSocket()) {
        probe.bind(new InetSocketAddress(address, port));
      } catch (BindException e) {
        throw new IOException("port " + port + " on " + address.getHostAddress() + " is already taken by another "
            + "listener (another node proxy of this node?): stop it first, or start this proxy as its successor with "
            + "--listen-after-ready (trellis restart does)", e);
      }
    }
  }

  /** How long {@link #start} waits for readiness before it binds the traffic listeners; zero: it does not wait. */
  private Duration listenAfterReady = Duration.ZERO;

  /**
   * {@code --listen-after-ready}: {@link #start} binds the outbound, inbound and HBONE listeners only once the proxy is
   * ready (configuration and SVIDs of local workloads), or after {@code timeout} (with a warning). A successor started
   * beside a running proxy of the same node shares its ports ({@code SO_REUSEPORT}): listening earlier would hand it
   * connections it cannot serve yet.
   */
  public NodeProxy listenAfterReady(Duration timeout) {
    if (timeout.isNegative()) {
      throw new IllegalArgumentException("--listen-after-ready: " + timeout + " (expected: 0 or more)");
    }
    this.listenAfterReady = timeout;
    return this;
  }

  /** Waits (on the starting thread, never an event loop) until ready or {@code timeout}; true if ready. */
  private boolean awaitReady(Duration timeout) {
    long deadline = ticker.getAsLong() + timeout.toNanos();
    while (!ready()) {
      if (ticker.getAsLong() - deadline >= 0) {
        return false;
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
      if (Thread.currentThread().isInterrupted()) {
        return false;
      }
    }
    return true;
  }

  /** Start-up work begun at {@code main} (NodeProxyMain); {@link #start} waits for each part before it needs it. */
  NodeProxy warmup(StartupWarmup warmup) {
    this.warmup = requireNonNull(warmup, "warmup");
    return this;
  }

  public NodeProxy start() throws IOException {
    ControlPlaneWarnings.emit(options);
    warmup.awaitXds();
    try {
      controlPlane = ControlPlaneChannel.open(options.controlPlane(), options.controlPlaneCa());
      BearerTokenCredentials credentials = options.tokenFile() == null ? BearerTokenCredentials.of(options.token())
          : new BearerTokenCredentials(new TokenFile(options.tokenFile(), options.token()));
      certificates = new CertificateManager(new CaClient(controlPlane, credentials, Duration.ZERO, Duration.ofSeconds(10),
          clock), control, clock, TlsOptions.defaults().withAlpn("h2"), CertificateManager.FETCH_BACKOFF);
      state.addListener(this::onConfig);
      ads = AdsClient.builder(controlPlane, Node.newBuilder().setId(options.node())
              .addClientFeatures(ClientKind.COMPACT_ENDPOINTS)
              .setMetadata(Struct.newBuilder()
                  .putFields("trellis.role", Value.newBuilder().setStringValue("node-proxy").build())
                  .putFields("trellis.node", Value.newBuilder().setStringValue(options.node()).build())
                  .putFields("trellis.addresses", Value.newBuilder().setStringValue(options.address()).build()))
              .build(), control)
          .callCredentials(credentials).build();
      state.watch(ads);
      ads.start();
      int peerHbonePort = options.hbonePort() > 0 ? options.hbonePort() : HboneNames.HBONE_PORT;
      boolean capture = options.capture() == NodeProxyOptions.Capture.TRANSPARENT;
      if (capture && (options.entryPort() <= 0 || options.hbonePort() <= 0 || options.inboundPort() <= 0)) {
        throw new IOException("capture mode needs fixed ports (redirection targets them): entry " + options.entryPort()
            + ", HBONE " + options.hbonePort() + ", inbound " + options.inboundPort());
      }
      outbound = new OutboundServices(state::current, clusters, certificates, capture
          ? HboneDialing.podAddresses(peerHbonePort, options.node(), new InetSocketAddress("127.0.0.1", options.hbonePort()))
          : HboneDialing.nodeAddresses(peerHbonePort, options.node(),
              new InetSocketAddress(options.address(), peerHbonePort)), CONNECT_TIMEOUT_MILLIS, ticker,
          options.httpLimits(), telemetry);
      inspection = new HttpInspection(outbound);
      // Telemetry never slows traffic: what cannot be queued is dropped, and counted here.
      telemetry.metrics().observedCounter("trellis.telemetry.spans.dropped", "spans dropped: export queue full or "
          + "export failed", "{span}", telemetry::droppedSpans);
      telemetry.metrics().observedCounter("trellis.telemetry.access_log.dropped", "access-log lines dropped: queue "
          + "full", "{line}", telemetry.accessLog()::dropped);
      PlaintextInbound plaintext = new PlaintextInbound(state::current, ownPorts, inspection, inbound, refusals, clock,
          CONNECT_TIMEOUT_MILLIS);
      if (listenAfterReady.isZero()) {
        refuseTakenPorts(capture ? ANY : InetAddress.ofLiteral(options.address()),
            options.entryPort(), options.inboundPort(), options.hbonePort());
      }
      if (listenAfterReady.isPositive() && !awaitReady(listenAfterReady)) {
        log.warn("node proxy {} not ready after --listen-after-ready {}s (no configuration or SVIDs yet from {}): "
            + "listening anyway", options.node(), listenAfterReady.toSeconds(), options.controlPlane());
      }
      if (capture) {
        // Every address: TPROXY hands over connections for pod and service addresses, eBPF sends them to the
        // node address, and this proxy dials its own HBONE listener on loopback for pods of this node.
        egress = PassthroughDialer.capture(InetAddress.ofLiteral(options.address()), options.agentState(), control,
            refusals);
        hbone = HboneServer.start(connections.track(Transport.transparent(new ServerBootstrap())), loops,
            new InetSocketAddress(ANY, options.hbonePort()), state::current, certificates, options.trustDomain(),
            ownPorts, inspection, inbound, refusals, clock);
        captureOutbound = CaptureServer.start(connections.track(Transport.transparent(new ServerBootstrap())), loops,
            new InetSocketAddress(ANY, options.entryPort()), this::outboundDestination,
            new OutboundDispatch(outbound, egress, refusals));
        captureInbound = CaptureServer.start(connections.track(Transport.transparent(new ServerBootstrap())), loops,
            new InetSocketAddress(ANY, options.inboundPort()),
            accepted -> new CaptureServer.Original((InetSocketAddress) accepted.localAddress(), Arrival.TPROXY),
            plaintext);
      } else {
        hbone = HboneServer.start(connections.track(new ServerBootstrap()), loops,
            new InetSocketAddress(options.address(), options.hbonePort()), state::current, certificates,
            options.trustDomain(), ownPorts, inspection, inbound, refusals, clock);
        entry = EntryServer.start(connections.track(new ServerBootstrap()), loops,
            new InetSocketAddress(options.address(), options.entryPort()), new OutboundDispatch(outbound, refusals),
            refusals, Refusal.Listener.OUTBOUND);
        plaintextInbound = EntryServer.start(connections.track(new ServerBootstrap()), loops,
            new InetSocketAddress(options.address(), options.inboundPort()), plaintext, refusals,
            Refusal.Listener.INBOUND);
      }
      MetricsPipeline metrics = telemetry.metricsPipeline().orElse(null);
      if (metrics == null) {
        ownMetrics = MetricsPipeline.scrapeOnly("trellis-node-proxy");
        metrics = ownMetrics;
      }
      AdminView view = new NodeProxyView(this, metrics);
      ProxyMetrics.register(metrics, view, ticker);
      admin = ProxyAdminServer.start(new InetSocketAddress(options.address(), options.adminPort()),
          new InetSocketAddress(ProxyAdminServer.debugBindAddress(options.address()), options.debugAdminPort()), view,
          ticker);
      log.info("node proxy {} up on {} ({}): outbound {}, inbound {}, HBONE {}, health and metrics {}, debug admin {} "
              + "(loopback only)", options.node(), options.address(), capture ? "transparent capture"
              + (redirects == null ? "" : ", eBPF lookups") : "explicit entry", entryPort(), inboundPort(),
          hbone.address().getPort(), admin.port(), admin.debugAddress());
      return this;
    } catch (RuntimeException | IOException e) {
      close();
      throw e instanceof IOException io ? io : new IOException("node proxy " + options.node() + " failed to start: "
          + e.getMessage(), e);
    }
  }

  /**
   * Where a captured outbound connection was going: the eBPF map knows for connections whose destination a
   * cgroup program rewrote to this listener; under TPROXY the accepted socket's local address is it. A
   * connection made straight to one of this proxy's ports on one of this node's addresses was not redirected
   * and is refused (forwarding it would loop).
   */
  private CaptureServer.Original outboundDestination(Channel accepted) {
    InetSocketAddress peer = (InetSocketAddress) accepted.remoteAddress();
    if (redirects != null) {
      Optional<InetSocketAddress> original = redirects.find(peer);
      if (original.isPresent()) {
        return new CaptureServer.Original(original.get(), Arrival.EBPF);
      }
    }
    InetSocketAddress local = (InetSocketAddress) accepted.localAddress();
    if (ownPorts.contains(local.getPort()) && isThisNode(local.getAddress())) {
      refusals.refuse(Refusal.Listener.OUTBOUND, Refusal.NOT_REDIRECTED, peer, "a connection straight to " + local
          + " (this node's capture listener) is closed: forwarding it would loop");
      return null;
    }
    return new CaptureServer.Original(local, Arrival.TPROXY);
  }

  private boolean isThisNode(InetAddress address) {
    return address.isAnyLocalAddress() || address.isLoopbackAddress()
        || egress.facts().nodeAddresses().contains(address);
  }

  /** The standard proxy ports plus the configured ones: HBONE never forwards to them. */
  private static Set<Integer> ownPorts(NodeProxyOptions options) {
    Set<Integer> ports = new HashSet<>(Set.of(15001, 15006, 15008, 15020, NodeProxyOptions.DEBUG_ADMIN_PORT));
    for (int p : new int[] {options.entryPort(), options.hbonePort(), options.adminPort(), options.inboundPort(),
        options.debugAdminPort()}) {
      if (p > 0) {
        ports.add(p);
      }
    }
    return Set.copyOf(ports);
  }

  private void onConfig(ProxyConfig config) {
    warmup.awaitCrypto();
    clusters.apply(config);
    certificates.track(identities(config));
  }

  private static Set<SpiffeId> identities(ProxyConfig config) {
    Set<SpiffeId> identities = new HashSet<>();
    for (LocalWorkload w : config.localByAddress().values()) {
      if (w.inMesh()) {
        identities.add(w.identity());
      }
    }
    return identities;
  }

  /**
   * Ready once the control plane has answered every watched type (the view is complete, even if
   * empty) and every local identity has its SVID.
   */
  public boolean ready() {
    return !connections.draining() && ads != null && ProxyState.WATCHED.stream().allMatch(ads::hasReceived)
        && certificates.status().values().stream().allMatch(CertificateManager.IdentityStatus::ready)
        && certificates.status().size() == identities(state.current()).size();
  }

  public ProxyConfig config() {
    return state.current();
  }

  public CertificateManager certificates() {
    return certificates;
  }

  public Clusters clusters() {
    return clusters;
  }

  public OutboundServices outbound() {
    return outbound;
  }

  public InboundRecords inbound() {
    return inbound;
  }

  /** What the listeners refused so far (for {@code /metrics}). */
  public Refusals refusals() {
    return refusals;
  }

  public NodeProxyOptions options() {
    return options;
  }

  public int entryPort() {
    return entry != null ? entry.address().getPort() : captureOutbound.address().getPort();
  }

  public int inboundPort() {
    return plaintextInbound != null ? plaintextInbound.address().getPort() : captureInbound.address().getPort();
  }

  public int hbonePort() {
    return hbone.address().getPort();
  }

  /** The health and metrics port ({@code /healthz/ready}, {@code /metrics}) on the node address. */
  public int adminPort() {
    return admin.port();
  }

  /** Where the debug admin ({@code /config_dump}, {@code /clusters}, {@code /connections}) listens: loopback. */
  public InetSocketAddress debugAdminAddress() {
    return admin.debugAddress();
  }

  /** Whether {@link #drain} has begun (the proxy then reports not ready). */
  public boolean draining() {
    return connections.draining();
  }

  /** Connections drains closed at their timeout (for {@code /metrics}). */
  public long drainClosedConnections() {
    return connections.closedAtTimeout();
  }

  /**
   * Drains the proxy before {@link #close}: readiness turns false at once, the traffic listeners (outbound, inbound,
   * HBONE) stop accepting, HTTP/1.1 connections close after their response in flight ({@code Connection: close}; idle
   * ones at once), HTTP/2 and HBONE connections get GOAWAY and close when their open streams finish. Completes when
   * every connection has ended, or at {@code timeout}, when what is left (raw TCP streams, requests that did not
   * finish) is closed and counted ({@link ConnectionDrain.Result#closedAtTimeout}). The health and metrics port and
   * the debug admin stay up until {@link #close}. Calling it again returns the same drain.
   */
  public CompletableFuture<ConnectionDrain.Result> drain(Duration timeout) {
    boolean first = !connections.draining();
    CompletableFuture<ConnectionDrain.Result> drained = connections.drain(timeout, control);
    if (first) {
      for (AutoCloseable listener : new AutoCloseable[] {entry, plaintextInbound, captureOutbound, captureInbound,
          hbone}) {
        closeQuietly(listener);
      }
    }
    return drained;
  }

  private static void closeQuietly(AutoCloseable c) {
    if (c != null) {
      try {
        c.close();
      } catch (Exception e) {
        log.debug("closing {}: {}", c, e.toString());
      }
    }
  }

  @Override
  public void close() {
    if (inspection != null) {
      inspection.close();
    }
    for (AutoCloseable c : new AutoCloseable[] {admin, entry, plaintextInbound, captureOutbound, captureInbound, hbone,
        outbound, egress}) {
      if (c != null) {
        try {
          c.close();
        } catch (Exception e) {
          log.debug("closing {}: {}", c, e.toString());
        }
      }
    }
    if (ads != null) {
      ads.close();
    }
    if (certificates != null) {
      certificates.close();
    }
    if (controlPlane != null) {
      controlPlane.shutdownNow();
    }
    loops.shutdownGracefully(0, 2, TimeUnit.SECONDS);
    control.shutdownNow();
    telemetry.close(); // flushes what is queued for export, briefly
    if (ownMetrics != null) {
      ownMetrics.close();
    }
  }
}
