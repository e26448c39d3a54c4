package dev.trellis.proxy.outbound;

import dev.trellis.proxy.cluster.ClusterRuntime;
import dev.trellis.proxy.cluster.Host;
import dev.trellis.proxy.cluster.LoadBalancer;
import dev.trellis.proxy.resilience.AttemptResult;
import dev.trellis.proxy.resilience.CircuitBreaker.Resource;
import dev.trellis.proxy.state.EndpointSpec;
import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.proxy.transport.Transport;
import dev.trellis.proxy.tunnel.HboneConnector;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The upstream of an L4 connection to a mesh cluster: the cluster's load balancer picks a host, a
 * failed connect is tried again on another host (up to {@link #MAX_CONNECT_ATTEMPTS} in all) and
 * counts for outlier detection, and the connection holds one of the cluster's
 * {@code max_connections} slots until it closes. The result is an HBONE stream or a TCP socket, both
 * with auto-read off.
 */
final class TcpUpstream {

  static final int MAX_CONNECT_ATTEMPTS = 3;

  /** Why an L4 connection could not be opened. */
  static final class TcpUpstreamException extends RuntimeException {
    final boolean overflow;
    final boolean denied;

    TcpUpstreamException(String message, boolean overflow, boolean denied, Throwable cause) {
      super(message, cause, false, false);
      this.overflow = overflow;
      this.denied = denied;
    }
  }

  private TcpUpstream() {}

  static Future<Channel> open(OutboundServices s, EventLoop loop, LocalWorkload source, ClusterRuntime cluster) {
    Promise<Channel> p = loop.newPromise();
    if (!cluster.breaker().tryAcquire(Resource.CONNECTIONS)) {
      return p.setFailure(new TcpUpstreamException("upstream overflow: cluster " + cluster.name() + " is at max_connections "
          + cluster.breaker().limit(Resource.CONNECTIONS), true, false, null));
    }
    p.addListener(f -> {
      if (f.isSuccess()) {
        ((Channel) f.getNow()).closeFuture().addListener(x -> cluster.breaker().release(Resource.CONNECTIONS));
      } else {
        cluster.breaker().release(Resource.CONNECTIONS);
      }
    });
    attempt(s, loop, source, cluster, new ArrayList<>(), p);
    return p;
  }

  private static void attempt(OutboundServices s, EventLoop loop, LocalWorkload source, ClusterRuntime cluster,
      List<Host> tried, Promise<Channel> p) {
    long now = s.ticker().getAsLong();
    Host host = cluster.pick(new LoadBalancer.Input(now, 0, false, tried, cluster.nextCount(),
        bound -> ThreadLocalRandom.current().nextLong(bound)));
    if (host == null) {
      p.setFailure(new TcpUpstreamException("no healthy upstream: cluster " + cluster.name() + " has no endpoints",
          false, false, null));
      return;
    }
    tried.add(host);
    connect(s, loop, source, host.endpoint()).addListener(f -> {
      if (f.isSuccess()) {
        cluster.record(host, AttemptResult.response(200), s.ticker().getAsLong());
        p.setSuccess((Channel) f.getNow());
        return;
      }
      boolean denied = f.cause() instanceof TcpUpstreamException t && t.denied;
      if (!denied) {
        cluster.stats().connectFailures.incrementAndGet();
        cluster.record(host, AttemptResult.of(AttemptResult.Kind.CONNECT_FAILURE), s.ticker().getAsLong());
      }
      if (denied || tried.size() >= MAX_CONNECT_ATTEMPTS) {
        p.setFailure(f.cause());
        return;
      }
      attempt(s, loop, source, cluster, tried, p);
    });
  }

  /**
   * One connection to {@code endpoint} (no cluster, no retry on another host): an HBONE stream as {@code source} when
   * both are in the mesh, else a socket. A refusal by the destination (401, 403) fails with {@code denied}.
   */
  static Future<Channel> connect(OutboundServices s, EventLoop loop, LocalWorkload source, EndpointSpec endpoint) {
    Promise<Channel> p = loop.newPromise();
    switch (UpstreamTarget.of(source, endpoint, s.dialing())) {
      case UpstreamTarget.Hbone t -> {
        s.connector(loop).open(t.source(), t.destination(), t.dial(), t.authority(), TunnelHeaders.of(source)).addListener(f -> {
          if (f.isSuccess()) {
            p.setSuccess((Channel) f.getNow());
            return;
          }
          HboneConnector.HboneException e = f.cause() instanceof HboneConnector.HboneException x ? x : null;
          boolean denied = e != null && (e.status() == 401 || e.status() == 403);
          p.setFailure(new TcpUpstreamException(f.cause().getMessage(), false, denied, f.cause()));
        });
      }
      case UpstreamTarget.Direct d -> Transport.relayConnection(loop, s.connectTimeoutMillis())
          .connect(d.address(), d.port())
          .addListener((ChannelFuture f) -> {
            if (f.isSuccess()) {
              p.setSuccess(f.channel());
            } else {
              p.setFailure(new TcpUpstreamException("connection to " + d.address() + ":" + d.port() + " failed: "
                  + f.cause().getMessage(), false, false, f.cause()));
            }
          });
    }
    return p;
  }
}
