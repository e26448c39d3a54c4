package dev.trellis.proxy.inbound;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.proxy.cluster.ClusterRuntime;
import dev.trellis.proxy.cluster.Clusters;
import dev.trellis.proxy.http.HeaderHygiene;
import dev.trellis.proxy.http.HttpContext;
import dev.trellis.proxy.http.HttpSniffHandler;
import dev.trellis.proxy.http.LocalReply;
import dev.trellis.proxy.http.UpstreamPool;
import dev.trellis.proxy.outbound.OutboundServices;
import dev.trellis.proxy.route.RouteTable;
import dev.trellis.proxy.state.ClusterSpec;
import dev.trellis.proxy.state.EndpointSpec;
import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.proxy.state.ProxyConfig;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpRequest;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The destination's HTTP work on the outbound HTTP engine, for every connection to a workload's HTTP port: requests
 * run as {@link HttpExchange}s to an "inbound" cluster whose one endpoint is the workload's port (the
 * already-connected socket is adopted as its first upstream connection), spoken to in the port's declared protocol
 * ({@code http}: HTTP/1.1; {@code http2}, {@code grpc}: HTTP/2), whichever the caller spoke. Each request is normalized
 * ({@code HttpExchange.canonicalize}: a path that cannot be is refused with 400), must pass {@link Authorization}
 * with its method and normalized path (denied: 403, flag RBAC), loses the identity headers a caller may not set
 * ({@code x-trellis-*}, {@code x-forwarded-client-cert}) and, from a verified caller, gets
 * {@code x-forwarded-client-cert: By=<workload>;URI=<caller>}.
 */
public final class HttpInspection implements HttpInspector {

  private final OutboundServices services;
  private final Clusters clusters = new Clusters();
  private final Map<EventLoop, UpstreamPool> pools = new ConcurrentHashMap<>();

  public HttpInspection(OutboundServices services) {
    this.services = services;
  }

  @Override
  public void inspect(Channel downstream, Channel workload, LocalWorkload target, SpiffeId peer, String address, int port) {
    String name = "inbound|" + port + "|" + target.name();
    EndpointSpec ep = new EndpointSpec(address, port, null, null, null, false, target.name(), null, 1);
    ClusterSpec.UpstreamProtocol declared = workloadProtocol(target.portProtocols().get(port));
    ClusterRuntime cluster = clusters.findOrCreate(new ClusterSpec(name, ClusterSpec.LbAlgorithm.ROUND_ROBIN,
        Duration.ofMillis(services.connectTimeoutMillis()), ClusterSpec.Breaker.DEFAULTS, null, declared), List.of(ep));
    RouteTable table = new RouteTable(name, List.of(new RouteTable.VirtualHost(name, Set.of("*"), List.of(
        new RouteTable.Rule("all", new RouteTable.Match(null, "/", null, List.of()),
            new RouteTable.Action(List.of(new RouteTable.WeightedCluster(name, 1)), null, null, null, false))))));
    ProxyConfig routes = new ProxyConfig(0, List.of(), Map.of(), Map.of(), Map.of(name, table), Map.of(),
        services.config().paths());
    UpstreamPool pool = pools.computeIfAbsent(downstream.eventLoop(),
        l -> new UpstreamPool(l, services.dialer(l), services.connectTimeoutMillis(), services.limits()));
    String clientCert = peer == null ? null : HeaderHygiene.clientCert(target.identity().toString(), peer.toString());
    HttpContext cx = new HttpContext(() -> routes, clusters, pool, name, target, peer == null ? "" : peer.toString(),
        UpstreamPool.Protocol.HTTP1, services.ticker(), services.limits(), request -> check(target, peer, port, request),
        true, services.telemetry(), clientCert);
    // The workload connection speaks the port's protocol, whatever the caller speaks: adopted as such once the
    // caller's first bytes show it is there to talk HTTP.
    UpstreamPool.Protocol toWorkload = declared == ClusterSpec.UpstreamProtocol.HTTP2
        ? UpstreamPool.Protocol.HTTP2 : UpstreamPool.Protocol.HTTP1;
    HttpSniffHandler.install(downstream, cx,
        caller -> pool.adopt(cluster, cluster.hosts().getFirst(), target, toWorkload, workload, downstream));
  }

  /**
   * How the destination speaks to a workload port from its declared protocol (the Workload resource's
   * {@code port_protocols}): {@code http2} and {@code grpc} are HTTP/2 with prior knowledge, {@code http} HTTP/1.1.
   */
  static ClusterSpec.UpstreamProtocol workloadProtocol(String declared) {
    return "http2".equals(declared) || "grpc".equals(declared)
        ? ClusterSpec.UpstreamProtocol.HTTP2 : ClusterSpec.UpstreamProtocol.HTTP1;
  }

  /** The request is already canonical (method upper-cased, path normalized): what is checked is what goes on. */
  private static LocalReply check(LocalWorkload target, SpiffeId peer, int port, HttpRequest request) {
    if (target.authorizations().isEmpty()) {
      return null;
    }
    String uri = request.uri();
    int q = uri.indexOf('?');
    String path = q < 0 ? uri : uri.substring(0, q);
    return switch (Authorization.evaluate(target.authorizations(), peer, port, request.method().name(), path)) {
      case Authorization.Deny d -> LocalReply.of(403, LocalReply.Flag.RBAC, "RBAC: access denied (" + d.reason() + ")");
      case Authorization.Allow a -> null;
      case Authorization.NeedsRequest n -> LocalReply.of(403, LocalReply.Flag.RBAC, "RBAC: access denied");
    };
  }

  /** Inspected connections' pooled workload connections, for admin output. */
  public int connections() {
    return pools.values().stream().mapToInt(UpstreamPool::connections).sum();
  }

  public void close() {
    pools.forEach((loop, pool) -> loop.execute(pool::close));
  }
}
