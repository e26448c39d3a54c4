package dev.trellis.proxy.testing;

import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.svid.Backoff;
import dev.trellis.mtls.testing.TestPki;
import dev.trellis.mtls.tls.TlsOptions;
import dev.trellis.proxy.cluster.Clusters;
import dev.trellis.proxy.drain.ConnectionDrain;
import dev.trellis.proxy.entry.EntryServer;
import dev.trellis.proxy.http.HttpLimits;
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
import dev.trellis.proxy.route.RouteTable;
import dev.trellis.proxy.state.AuthorizationSpec;
import dev.trellis.proxy.state.Cidr;
import dev.trellis.proxy.state.ClusterSpec;
import dev.trellis.proxy.state.EndpointSpec;
import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.proxy.state.OutboundRule;
import dev.trellis.proxy.state.ProxyConfig;
import dev.trellis.proxy.testing.LeakRecorder;
import dev.trellis.proxy.testing.RecordingTelemetry;
import dev.trellis.proxy.transport.Transport;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One node's data path on loopback, for tests of the outbound HTTP and TCP paths: the SOCKS entry,
 * the outbound services, and an HBONE server fronting backend workloads on 127.0.73.x addresses, all
 * with real TLS from a per-test CA. The client workload is 127.0.0.1. Mesh endpoints go over HBONE to
 * this same node; {@link #direct} endpoints are dialed in plaintext. Time for outlier detection and
 * deadlines is {@link #ticker}, advanced by the test.
 */
public final class ProxyFixture implements AutoCloseable {

  public static final TrustDomain TD = TrustDomain.CLUSTER_LOCAL;
  public static final SpiffeId CLIENT = SpiffeId.forWorkload(TD, "d", "client");
  public static final SpiffeId WEB = SpiffeId.forWorkload(TD, "d", "web");
  public static final String NODE = "127.0.73.1";
  public static final String VIP = "10.96.0.10";
  public static final String ROUTES = "web.d.svc.cluster.local:80";

  static {
    System.setProperty("sun.net.httpserver.nodelay", "true"); // the JDK test server writes headers and body apart
  }

  public final AtomicLong ticker = new AtomicLong(1_000_000_000L);
  public final EventLoopGroup group = Transport.newGroup(2, "trellis-proxy");
  public final InboundRecords inbound = new InboundRecords(1000);
  public final Clusters clusters = new Clusters();
  private final TestPki pki = TestPki.newRoot(TD);
  private final ScheduledExecutorService certExecutor = Executors.newSingleThreadScheduledExecutor();
  private final AtomicReference<ProxyConfig> config = new AtomicReference<>(ProxyConfig.EMPTY);
  private final List<HttpServer> backends = new ArrayList<>();
  private final List<RecordingBackend> recorders = new ArrayList<>();
  private final Map<String, LocalWorkload> locals = new HashMap<>();
  public final CertificateManager certificates;
  public final HboneServer hbone;
  public final OutboundServices services;
  public HttpInspection inspection; // set after the HBONE server, whose port the outbound services need
  public final EntryServer entry;
  public final EntryServer plaintext;
  /** What the fixture's listeners refused (one log line per kind per 10 s of {@link #ticker}). */
  public final Refusals refusals = new Refusals(ticker::get);
  /** Tracks the connections of the entry, plaintext inbound and HBONE listeners, as the node proxy does. */
  public final ConnectionDrain connections = new ConnectionDrain(System::nanoTime);

  public ProxyFixture() {
    this(HttpLimits.DEFAULTS);
  }

  public ProxyFixture(HttpLimits limits) {
    // Telemetry on (in memory) for every loopback test: the whole HTTP engine runs with spans, metrics and access-log
    // lines recorded and leak detection watching; the ITs run node proxies with telemetry disabled.
    this(limits, new RecordingTelemetry());
  }

  public ProxyFixture(HttpLimits limits, dev.trellis.telemetry.Telemetry telemetry) {
    certificates = new CertificateManager(id -> CompletableFuture.completedFuture(
        pki.leaf(id.namespace().orElseThrow(), id.serviceAccount().orElseThrow()).issue()), certExecutor,
        Clock.systemUTC(), TlsOptions.defaults().withAlpn("h2"),
        Backoff.exponential(Duration.ofMillis(100), Duration.ofSeconds(1), 2, 0, new Random()));
    certificates.track(Set.of(CLIENT, WEB));
    await().atMost(Duration.ofSeconds(10)).until(() -> certificates.status().values().stream()
        .filter(CertificateManager.IdentityStatus::ready).count() == 2);
    locals.put("127.0.0.1", new LocalWorkload("d/client-0", "d", CLIENT, List.of("127.0.0.1"), true,
        LocalWorkload.MtlsMode.STRICT, Map.of()));
    hbone = HboneServer.start(connections.track(new ServerBootstrap()), group, new InetSocketAddress(NODE, 0), config::get, certificates, TD,
        Set.of(15001, 15006, 15008, 15020), new dev.trellis.proxy.inbound.HttpInspector() {
          @Override
          public void inspect(io.netty.channel.Channel d, io.netty.channel.Channel w, LocalWorkload t, SpiffeId p,
              String a, int port) {
            inspection.inspect(d, w, t, p, a, port);
          }
        }, inbound, refusals, Clock.systemUTC());
    services = new OutboundServices(config::get, clusters, certificates,
        HboneDialing.nodeAddresses(hbone.address().getPort(), "node", hbone.address()), 2000, ticker::get, limits,
        telemetry);
    inspection = new HttpInspection(services);
    entry = EntryServer.start(connections.track(new ServerBootstrap()), group, new InetSocketAddress("127.0.0.1", 0), new OutboundDispatch(services, refusals), refusals,
        Refusal.Listener.OUTBOUND);
    plaintext = EntryServer.start(connections.track(new ServerBootstrap()), group, new InetSocketAddress(NODE, 0), new PlaintextInbound(config::get,
        Set.of(15001, 15006, 15008, 15020), inspection, inbound, refusals, Clock.systemUTC(), 2000), refusals,
        Refusal.Listener.INBOUND);
  }

  /** Starts an HTTP/1.1 backend workload on {@code address} (127.0.73.x) and makes it a local workload. */
  public InetSocketAddress backend(String address, HttpHandler handler) throws IOException {
    HttpServer s = HttpServer.create(new InetSocketAddress(address, 0), 100);
    s.createContext("/", handler);
    s.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
    s.start();
    backends.add(s);
    locals.put(address, new LocalWorkload("d/web-" + address, "d", WEB, List.of(address), true,
        LocalWorkload.MtlsMode.STRICT, Map.of()));
    return s.getAddress();
  }

  /**
   * Starts a {@link RecordingBackend} (HTTP/1.1 and HTTP/2) on {@code address} (127.0.73.x) and makes it a local
   * workload.
   */
  public RecordingBackend recordingBackend(String address) {
    RecordingBackend b = new RecordingBackend(address);
    recorders.add(b);
    workload(address);
    return b;
  }

  /** An HTTP/2 (prior knowledge) client entering the SOCKS entry for the VIP, as the client workload. */
  public H2Caller h2Client() {
    return new H2Caller(entry.address(), "127.0.0.1", VIP, 80);
  }

  /** An HTTP/2 client entering the inbound port in plaintext for {@code address}:{@code port}. */
  public H2Caller h2PlaintextClient(String address, int port) {
    return new H2Caller(plaintext.address(), "127.0.0.1", address, port);
  }

  /** Gives the local workload at {@code address} authorization policies, a mode, and port protocols. */
  public void policies(String address, LocalWorkload.MtlsMode mode, List<AuthorizationSpec> policies,
      Map<Integer, String> protocols) {
    LocalWorkload w = locals.get(address);
    locals.put(address, new LocalWorkload(w.name(), w.namespace(), w.identity(), w.addresses(), w.inMesh(), mode,
        w.labels(), policies, protocols));
  }

  /** A plaintext client entering the inbound port for {@code address}:{@code port}. */
  public RawHttp plaintextClient(String address, int port) throws IOException {
    return RawHttp.socks(plaintext.address(), "127.0.0.1", address, port);
  }

  /** Makes {@code address} a local workload (with the web identity) without starting a server there. */
  public void workload(String address) {
    locals.put(address, new LocalWorkload("d/web-" + address, "d", WEB, List.of(address), true,
        LocalWorkload.MtlsMode.STRICT, Map.of()));
  }

  /** A mesh endpoint (reached over HBONE via this node). */
  public static EndpointSpec mesh(InetSocketAddress a) {
    return new EndpointSpec(a.getAddress().getHostAddress(), a.getPort(), WEB, "node", NODE, true, "d/web", null, 1);
  }

  /** An endpoint outside the mesh (plaintext). */
  public static EndpointSpec direct(InetSocketAddress a) {
    return new EndpointSpec(a.getAddress().getHostAddress(), a.getPort(), null, null, null, false, "d/ext", null, 1);
  }

  /** A cluster whose upstream protocol follows the client's ({@code use_downstream_protocol_config}). */
  public static ClusterSpec cluster(String name) {
    return new ClusterSpec(name, ClusterSpec.LbAlgorithm.ROUND_ROBIN, Duration.ofSeconds(2), ClusterSpec.Breaker.DEFAULTS,
        null);
  }

  /** A cluster whose service port declares {@code upstream} (what CDS's HttpProtocolOptions carries). */
  public static ClusterSpec cluster(String name, ClusterSpec.UpstreamProtocol upstream) {
    return new ClusterSpec(name, ClusterSpec.LbAlgorithm.ROUND_ROBIN, Duration.ofSeconds(2), ClusterSpec.Breaker.DEFAULTS,
        null, upstream);
  }

  public static RouteTable.Rule rule(String name, String prefix, RouteTable.Action action) {
    return new RouteTable.Rule(name, new RouteTable.Match(null, prefix, null, List.of()), action);
  }

  public static RouteTable.Action to(String cluster) {
    return new RouteTable.Action(List.of(new RouteTable.WeightedCluster(cluster, 1)), null, null, null, false);
  }

  /** Applies a config: the VIP routes HTTP with {@code rules}; clusters with their endpoints. */
  public void http(List<RouteTable.Rule> rules, Map<ClusterSpec, List<EndpointSpec>> clusterEndpoints) {
    Map<String, ClusterSpec> cs = new HashMap<>();
    Map<String, List<EndpointSpec>> eps = new HashMap<>();
    clusterEndpoints.forEach((c, e) -> {
      cs.put(c.name(), c);
      eps.put(c.name(), e);
    });
    RouteTable table = new RouteTable(ROUTES, List.of(new RouteTable.VirtualHost("web", Set.of("web.d.svc.cluster.local"),
        rules)));
    apply(new ProxyConfig(config.get().version() + 1,
        List.of(new OutboundRule(ROUTES, Cidr.of(VIP, 32), 80, new OutboundRule.Http(ROUTES))), cs, eps,
        Map.of(ROUTES, table), locals));
  }

  /** Applies a config where the VIP is a TCP service of {@code cluster}. */
  public void tcp(ClusterSpec cluster, List<EndpointSpec> endpoints) {
    apply(new ProxyConfig(config.get().version() + 1,
        List.of(new OutboundRule("db", Cidr.of(VIP, 32), 80, new OutboundRule.Tcp(cluster.name()))),
        Map.of(cluster.name(), cluster), Map.of(cluster.name(), endpoints), Map.of(), locals));
  }

  private void apply(ProxyConfig c) {
    Map<String, LocalWorkload> byAddress = new HashMap<>(c.localByAddress());
    config.set(new ProxyConfig(c.version(), c.outbound(), c.clusters(), c.endpoints(), c.routes(), byAddress,
        List.of(), c.paths(), ProxyConfig.meshWorkloads(c.endpoints(), byAddress, "node")));
    clusters.apply(config.get());
  }

  /** What {@code NodeProxy.drain} does: the listeners stop accepting, the connections are drained. */
  public CompletableFuture<ConnectionDrain.Result> drain(Duration timeout) {
    CompletableFuture<ConnectionDrain.Result> d = connections.drain(timeout, certExecutor);
    entry.close();
    plaintext.close();
    hbone.close();
    return d;
  }

  public RawHttp client() throws IOException {
    return RawHttp.socks(entry.address(), "127.0.0.1", VIP, 80);
  }

  public void advance(Duration d) {
    ticker.addAndGet(d.toNanos());
  }

  public static byte[] readAll(HttpExchange ex) throws IOException {
    return ex.getRequestBody().readAllBytes();
  }

  public static void respond(HttpExchange ex, int status, String body) throws IOException {
    byte[] b = body.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    ex.sendResponseHeaders(status, b.length == 0 ? -1 : b.length);
    ex.getResponseBody().write(b);
    ex.close();
  }

  @Override
  public void close() {
    entry.close();
    plaintext.close();
    inspection.close();
    services.close();
    hbone.close();
    backends.forEach(s -> s.stop(0));
    recorders.forEach(RecordingBackend::close);
    certificates.close();
    certExecutor.shutdownNow();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    LeakRecorder.assertNoLeaks();
  }
}
