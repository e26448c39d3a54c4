package dev.trellis.proxy.outbound;

import dev.trellis.proxy.egress.PassthroughDialer;
import dev.trellis.proxy.egress.Via;
import dev.trellis.proxy.entry.Arrival;
import dev.trellis.proxy.entry.EntryDispatcher;
import dev.trellis.proxy.http.HttpContext;
import dev.trellis.proxy.http.HttpSniffHandler;
import dev.trellis.proxy.http.UpstreamPool;
import dev.trellis.proxy.observe.TcpTelemetryHandler;
import dev.trellis.proxy.refusal.Refusals;
import dev.trellis.proxy.tunnel.SocketRelayHandler;
import dev.trellis.proxy.tunnel.SocketToStreamHandler;
import dev.trellis.proxy.tunnel.StreamToSocketHandler;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.concurrent.Future;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.EnumMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What happens to an outbound connection once its original destination is known, whatever brought
 * it in (the SOCKS5 or HTTP CONNECT entry, or transparent capture): {@link OutboundDecision}
 * decides, this does the I/O (passthrough through the {@link PassthroughDialer}). L7 connections are
 * accepted at once and handed to the HTTP pipeline; L4 and passthrough connections are accepted only
 * once their upstream is connected, so a client sees a refusal rather than a connection that dies.
 */
public final class OutboundDispatch implements EntryDispatcher {

  private static final Logger log = LoggerFactory.getLogger(OutboundDispatch.class);

  private final OutboundServices services;
  private final PassthroughDialer egress;
  private final Refusals refusals;

  /** The local entry's dispatcher: passthrough leaves from the node. */
  public OutboundDispatch(OutboundServices services, Refusals refusals) {
    this(services, PassthroughDialer.local(refusals), refusals);
  }

  /**
   * @param egress how passthrough connections are dialed (and what the node knows about its own addresses)
   * @param refusals where refused connections are counted ({@code listener="outbound"}) and logged, rate-limited
   */
  public OutboundDispatch(OutboundServices services, PassthroughDialer egress, Refusals refusals) {
    this.services = services;
    this.egress = egress;
    this.refusals = refusals;
  }

  @Override
  public void dispatch(Channel downstream, String source, InetAddress destination, String name, int port,
      EntryReply reply) {
    dispatch(downstream, source, destination, name, port, Arrival.ENTRY, reply);
  }

  @Override
  public void dispatch(Channel downstream, String source, InetAddress destination, String name, int port,
      Arrival arrival, EntryReply reply) {
    OutboundDecision decision = OutboundDecision.decide(source, destination, port, name, services.config(), arrival,
        egress.facts());
    switch (decision) {
      case OutboundDecision.Refuse r -> {
        String to = (destination != null ? destination.getHostAddress() : name) + ":" + port;
        refusals.refuse(dev.trellis.proxy.refusal.Refusal.Listener.OUTBOUND, r.refusal(), source + " -> " + to,
            r.reason());
        reply.reject(Refusal.FORBIDDEN);
      }
      case OutboundDecision.Passthrough d -> passthrough(services, egress, downstream, d, reply);
      case OutboundDecision.Tcp t -> tcp(services, downstream, t, reply);
      case OutboundDecision.MeshWorkload w -> meshWorkload(services, downstream, w, reply);
      case OutboundDecision.Http h -> {
        HttpContext cx = new HttpContext(services.configSupplier(), services.clusters(),
            services.pool(downstream.eventLoop()), h.routeConfig(), h.source(), source, UpstreamPool.Protocol.HTTP1,
            services.ticker(), services.limits(), null, false, services.telemetry(), null);
        ChannelFuture accepted = reply.accept();
        if (accepted.isDone()) {
          HttpSniffHandler.install(downstream, cx, null); // a capture listener: accepted already
        } else {
          accepted.addListener(x -> HttpSniffHandler.install(downstream, cx, null));
        }
      }
    }
  }

  private static void tcp(OutboundServices services, Channel downstream, OutboundDecision.Tcp t, EntryReply reply) {
    var cluster = services.clusters().find(t.cluster());
    if (cluster == null) {
      log.debug("cluster {} of {} not known yet", t.cluster(), t.service());
      reply.reject(Refusal.UNREACHABLE);
      return;
    }
    TcpUpstream.open(services, downstream.eventLoop(), t.source(), cluster).addListener(f -> {
      if (!f.isSuccess()) {
        TcpTelemetryHandler.failed(services.telemetry(), t.source(), t.service(), f.cause().getMessage());
        TcpUpstream.TcpUpstreamException e = f.cause() instanceof TcpUpstream.TcpUpstreamException x ? x : null;
        log.debug("{} -> {}: {}", t.source().name(), t.service(), f.cause().getMessage());
        reply.reject(e != null && e.denied ? Refusal.FORBIDDEN : e != null && e.overflow ? Refusal.OVERFLOW
            : Refusal.UNREACHABLE);
        return;
      }
      if (services.observesRequests()) {
        downstream.pipeline().addFirst("tcp-telemetry", TcpTelemetryHandler.opened(services.telemetry(), t.source(),
            t.service(), cluster.name()));
      }
      relay(downstream, (Channel) f.getNow(), reply);
    });
  }

  /** A mesh workload dialed by its address: one tunnel to it, as for a service endpoint, then a byte relay. */
  private static void meshWorkload(OutboundServices services, Channel downstream, OutboundDecision.MeshWorkload w,
      EntryReply reply) {
    String service = "workload " + w.target().workload();
    TcpUpstream.connect(services, downstream.eventLoop(), w.source(), w.target()).addListener(f -> {
      if (!f.isSuccess()) {
        TcpTelemetryHandler.failed(services.telemetry(), w.source(), service, f.cause().getMessage());
        boolean denied = f.cause() instanceof TcpUpstream.TcpUpstreamException e && e.denied;
        log.debug("{} -> {} ({}): {}", w.source().name(), w.target().hostPort(), service, f.cause().getMessage());
        reply.reject(denied ? Refusal.FORBIDDEN : Refusal.UNREACHABLE);
        return;
      }
      if (services.observesRequests()) {
        downstream.pipeline().addFirst("tcp-telemetry", TcpTelemetryHandler.opened(services.telemetry(), w.source(),
            service, "direct"));
      }
      relay(downstream, (Channel) f.getNow(), reply);
    });
  }

  private static void passthrough(OutboundServices services, PassthroughDialer egress, Channel downstream,
      OutboundDecision.Passthrough d, EntryReply reply) {
    InetAddress pod = d.via() == Via.NODE ? null : InetAddress.ofLiteral(d.source());
    egress.dial(downstream.eventLoop(), services.connectTimeoutMillis(), d.via(), pod,
            new InetSocketAddress(d.address(), d.port())) // a literal: nothing is looked up
        .addListener((Future<Channel> f) -> {
          if (!f.isSuccess()) {
            log.debug("passthrough {} -> {}:{} via {}: {}", d.source(), d.address(), d.port(), d.via(),
                f.cause().getMessage());
            reply.reject(Refusal.UNREACHABLE);
            return;
          }
          relay(downstream, f.getNow(), reply);
        });
  }

  /** Accepts the client, then copies bytes both ways (HBONE stream or socket upstream). */
  static void relay(Channel downstream, Channel upstream, EntryReply reply) {
    if (!downstream.isActive()) {
      upstream.close();
      return;
    }
    reply.accept().addListener(x -> {
      if (upstream instanceof Http2StreamChannel stream) {
        downstream.pipeline().addLast("relay", new SocketToStreamHandler(stream));
        stream.pipeline().addLast("relay", new StreamToSocketHandler(downstream));
      } else {
        downstream.pipeline().addLast("relay", new SocketRelayHandler(upstream));
        upstream.pipeline().addLast("relay", new SocketRelayHandler(downstream));
      }
      downstream.read();
      upstream.read();
    });
  }
}
