package dev.trellis.proxy.standalone;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.svid.Backoff;
import dev.trellis.mtls.svid.IssuedSvid;
import dev.trellis.mtls.svid.TrustBundle;
import dev.trellis.mtls.svid.X509Svid;
import dev.trellis.mtls.tls.TlsOptions;
import dev.trellis.proxy.cluster.Clusters;
import dev.trellis.proxy.entry.Arrival;
import dev.trellis.proxy.entry.CaptureServer;
import dev.trellis.proxy.http.HttpLimits;
import dev.trellis.proxy.identity.CertificateManager;
import dev.trellis.proxy.inbound.HboneServer;
import dev.trellis.proxy.inbound.HttpInspection;
import dev.trellis.proxy.inbound.InboundRecords;
import dev.trellis.proxy.outbound.HboneDialing;
import dev.trellis.proxy.outbound.OutboundDispatch;
import dev.trellis.proxy.outbound.OutboundServices;
import dev.trellis.proxy.refusal.Refusals;
import dev.trellis.proxy.route.RouteTable;
import dev.trellis.proxy.state.Cidr;
import dev.trellis.proxy.state.ClusterSpec;
import dev.trellis.proxy.state.EndpointSpec;
import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.proxy.state.OutboundRule;
import dev.trellis.proxy.state.ProxyConfig;
import dev.trellis.proxy.transport.Transport;
import dev.trellis.telemetry.Telemetry;
import dev.trellis.telemetry.config.TelemetrySettings;
import io.netty.channel.EventLoopGroup;
import io.opentelemetry.api.common.Attributes;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A node proxy without a control plane, for benchmarks and debugging: one role, one service, the
 * certificate from PEM files. The <b>source</b> role takes every connection on its listener as bound
 * for one service (HTTP or TCP) whose one endpoint sits behind a peer's HBONE port; the
 * <b>destination</b> role is an HBONE server in front of one workload address. Both run the same code
 * as a node proxy fed by xDS.
 */
public final class StandaloneProxy implements AutoCloseable {

  /** The service address the source role treats as every connection's original destination. */
  static final InetSocketAddress SERVICE = new InetSocketAddress("240.240.0.1", 80);
  static final String NAME = "standalone";

  /** How the proxy runs; {@code peer}, {@code upstream}, {@code peerId} and {@code protocol} only for the source. */
  public record Options(Role role, InetSocketAddress listen, IssuedSvid svid, int threads, String sourceAddress,
      InetSocketAddress peer, SpiffeId peerId, InetSocketAddress upstream, String protocol, String workloadAddress,
      int workloadHttpPort, TelemetrySettings telemetry) {}

  public enum Role {
    SOURCE,
    DESTINATION
  }

  private final EventLoopGroup group;
  private final ScheduledExecutorService certExecutor = Executors.newSingleThreadScheduledExecutor();
  private final CertificateManager certificates;
  private AutoCloseable server;
  private OutboundServices services;
  private HttpInspection inspection;
  private Telemetry telemetry = Telemetry.disabled();

  private StandaloneProxy(Options o) {
    group = Transport.newGroup(o.threads(), "trellis-proxy");
    SpiffeId me = o.svid().svid().id();
    certificates = new CertificateManager(id -> CompletableFuture.completedFuture(o.svid()), certExecutor,
        Clock.systemUTC(), TlsOptions.defaults().withAlpn("h2"),
        Backoff.exponential(Duration.ofMillis(100), Duration.ofSeconds(5), 2, 0.2, new Random()));
    certificates.track(Set.of(me));
  }

  public static StandaloneProxy start(Options o) throws InterruptedException {
    StandaloneProxy p = new StandaloneProxy(o);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!p.certificates.status().values().stream().allMatch(CertificateManager.IdentityStatus::ready)) {
      if (System.nanoTime() > deadline) {
        p.close();
        throw new IllegalStateException("the certificate did not load: " + p.certificates.status());
      }
      Thread.sleep(10);
    }
    SpiffeId me = o.svid().svid().id();
    if (o.telemetry() != null) {
      p.telemetry = Telemetry.create(o.telemetry(), "trellis-node-proxy",
          Attributes.builder().put("trellis.role", o.role().name().toLowerCase()).build());
    }
    if (o.role() == Role.SOURCE) {
      ProxyConfig config = sourceConfig(o, me);
      Clusters clusters = new Clusters();
      clusters.apply(config);
      p.services = new OutboundServices(() -> config, clusters, p.certificates,
          HboneDialing.nodeAddresses(o.peer().getPort()), 5000, System::nanoTime,
          HttpLimits.DEFAULTS, p.telemetry);
      p.server = CaptureServer.start(p.group, o.listen(),
          ch -> new CaptureServer.Original(SERVICE, Arrival.ENTRY), new OutboundDispatch(p.services, new Refusals(System::nanoTime)));
    } else {
      LocalWorkload w = new LocalWorkload(NAME, "default", me, List.of(o.workloadAddress()), true,
          LocalWorkload.MtlsMode.STRICT, Map.of(), List.of(),
          o.workloadHttpPort() > 0 ? Map.of(o.workloadHttpPort(), "http") : Map.of());
      ProxyConfig config = new ProxyConfig(1, List.of(), Map.of(), Map.of(), Map.of(), Map.of(w.addresses().getFirst(), w));
      p.services = new OutboundServices(() -> config, new Clusters(), p.certificates,
          HboneDialing.nodeAddresses(o.listen().getPort()), 5000, System::nanoTime,
          HttpLimits.DEFAULTS, p.telemetry);
      p.inspection = new HttpInspection(p.services);
      p.server = HboneServer.start(p.group, o.listen(), () -> config, p.certificates, me.trustDomain(),
          Set.of(o.listen().getPort()), p.inspection, new InboundRecords(100),
          new Refusals(System::nanoTime), Clock.systemUTC());
    }
    return p;
  }

  static ProxyConfig sourceConfig(Options o, SpiffeId me) {
    LocalWorkload client = new LocalWorkload("client", "default", me, List.of(o.sourceAddress()), true,
        LocalWorkload.MtlsMode.STRICT, Map.of());
    EndpointSpec ep = new EndpointSpec(o.upstream().getAddress().getHostAddress(), o.upstream().getPort(), o.peerId(),
        "peer", o.peer().getAddress().getHostAddress(), true, NAME, null, 1);
    ClusterSpec cluster = new ClusterSpec(NAME, ClusterSpec.LbAlgorithm.ROUND_ROBIN, Duration.ofSeconds(5),
        new ClusterSpec.Breaker(1 << 20, 1 << 20, 1 << 20, 3, -1, 3), null, ClusterSpec.UpstreamProtocol.HTTP1);
    boolean http = !o.protocol().equals("tcp");
    OutboundRule.Target target = http ? new OutboundRule.Http(NAME) : new OutboundRule.Tcp(NAME);
    Map<String, RouteTable> routes = http ? Map.of(NAME, new RouteTable(NAME, List.of(new RouteTable.VirtualHost(NAME,
        Set.of("*"), List.of(new RouteTable.Rule("all", new RouteTable.Match(null, "/", null, List.of()),
            new RouteTable.Action(List.of(new RouteTable.WeightedCluster(NAME, 1)), null, null, null, false)))))))
        : Map.of();
    return new ProxyConfig(1, List.of(new OutboundRule(NAME, Cidr.of(SERVICE.getAddress().getHostAddress(), 32),
        SERVICE.getPort(), target)), Map.of(NAME, cluster), Map.of(NAME, List.of(ep)), routes,
        Map.of(o.sourceAddress(), client));
  }

  /** Loads an SVID from PEM files: the certificate (chain), its PKCS#8 key, and the CA roots. */
  public static IssuedSvid load(String certPem, String keyPem, String caPem) {
    X509Svid svid = X509Svid.fromPem(certPem, keyPem);
    return new IssuedSvid(svid, TrustBundle.fromPem(svid.id().trustDomain(), caPem));
  }

  @Override
  public void close() {
    if (server != null) {
      try {
        server.close();
      } catch (Exception e) {
        // closing anyway
      }
    }
    if (inspection != null) {
      inspection.close();
    }
    if (services != null) {
      services.close();
    }
    certificates.close();
    certExecutor.shutdownNow();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    telemetry.close();
  }
}
