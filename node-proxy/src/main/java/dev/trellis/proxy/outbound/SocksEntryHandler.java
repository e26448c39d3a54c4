package dev.trellis.proxy.outbound;

import dev.trellis.proxy.state.ProxyConfig;
import dev.trellis.proxy.tunnel.HboneConnector;
import dev.trellis.proxy.tunnel.HboneNames;
import dev.trellis.proxy.tunnel.SocketRelayHandler;
import dev.trellis.proxy.tunnel.SocketToStreamHandler;
import dev.trellis.proxy.tunnel.StreamToSocketHandler;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.socksx.SocksMessage;
import io.netty.handler.codec.socksx.v5.DefaultSocks5CommandResponse;
import io.netty.handler.codec.socksx.v5.DefaultSocks5InitialResponse;
import io.netty.handler.codec.socksx.v5.Socks5AddressType;
import io.netty.handler.codec.socksx.v5.Socks5AuthMethod;
import io.netty.handler.codec.socksx.v5.Socks5CommandRequest;
import io.netty.handler.codec.socksx.v5.Socks5CommandRequestDecoder;
import io.netty.handler.codec.socksx.v5.Socks5CommandStatus;
import io.netty.handler.codec.socksx.v5.Socks5CommandType;
import io.netty.handler.codec.socksx.v5.Socks5InitialRequest;
import io.netty.handler.codec.socksx.v5.Socks5InitialRequestDecoder;
import io.netty.handler.codec.socksx.v5.Socks5ServerEncoder;
import io.netty.util.concurrent.Future;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.function.ToLongFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The local-mode entry (SOCKS5, no authentication, CONNECT only): the explicit stand-in for
 * transparent capture. The client's source address says which workload is calling, exactly as the
 * captured pod's address will; the requested address (a service VIP or a {@code <fqdn>}) is the
 * original destination. The decision is {@link OutboundDecision}'s; this handler only does the I/O:
 * answer the SOCKS request, then hand the connection to the HTTP pipeline (L7) or relay its bytes to
 * an upstream chosen by {@link TcpUpstream} (L4) or to the original destination (passthrough).
 */
final class SocksEntryHandler extends SimpleChannelInboundHandler<SocksMessage> {

  private static final Logger log = LoggerFactory.getLogger(SocksEntryHandler.class);

  private final OutboundServices services;

  SocksEntryHandler(OutboundServices services) {
    this.services = services;
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, SocksMessage msg) {
    if (msg instanceof Socks5InitialRequest init) {
      if (!init.authMethods().contains(Socks5AuthMethod.NO_AUTH)) {
        ctx.writeAndFlush(new DefaultSocks5InitialResponse(Socks5AuthMethod.UNACCEPTED)).addListener(ChannelFutureListener.CLOSE);
        return;
      }
      ctx.pipeline().replace(Socks5InitialRequestDecoder.class, "socks-command", new Socks5CommandRequestDecoder());
      ctx.writeAndFlush(new DefaultSocks5InitialResponse(Socks5AuthMethod.NO_AUTH));
      ctx.read();
      return;
    }
    if (msg instanceof Socks5CommandRequest cmd) {
      if (cmd.type() != Socks5CommandType.CONNECT) {
        fail(ctx, Socks5CommandStatus.COMMAND_UNSUPPORTED, cmd);
        return;
      }
      route(ctx, cmd);
      return;
    }
    ctx.close();
  }

  private void route(ChannelHandlerContext ctx, Socks5CommandRequest cmd) {
    InetAddress destination = null;
    String name = null;
    if (cmd.dstAddrType() == Socks5AddressType.DOMAIN) {
      name = cmd.dstAddr();
    } else {
      destination = InetAddress.ofLiteral(cmd.dstAddr());
    }
    String source = ((InetSocketAddress) ctx.channel().remoteAddress()).getAddress().getHostAddress();
    OutboundDecision decision = OutboundDecision.decide(source, destination, cmd.dstPort(), name, services.config());
    switch (decision) {
      case OutboundDecision.Refuse r -> {
        log.debug("refused {} -> {}:{}: {}", source, cmd.dstAddr(), cmd.dstPort(), r.reason());
        fail(ctx, Socks5CommandStatus.FORBIDDEN, cmd);
      }
      case OutboundDecision.Passthrough d -> direct(ctx, cmd, d);
      case OutboundDecision.Tcp t -> tcp(ctx, cmd, t);
      case OutboundDecision.Http h -> {
        HttpContext cx = new HttpContext(services.configSupplier(), services.clusters(),
            services.pool(ctx.channel().eventLoop()), h.routeConfig(), h.source(), source, UpstreamPool.Protocol.HTTP1,
            services.ticker());
        succeed(ctx, cmd).addListener(x -> ctx.pipeline().addLast("sniff", new HttpSniffHandler(cx)));
      }
    }
  }

  private void tcp(ChannelHandlerContext ctx, Socks5CommandRequest cmd, OutboundDecision.Tcp t) {
    Channel downstream = ctx.channel();
    var cluster = services.clusters().find(t.cluster());
    if (cluster == null) {
      log.debug("cluster {} of {} not known yet", t.cluster(), t.service());
      fail(ctx, Socks5CommandStatus.HOST_UNREACHABLE, cmd);
      return;
    }
    TcpUpstream.open(services, downstream.eventLoop(), t.source(), cluster).addListener(f -> {
      if (!f.isSuccess()) {
        TcpUpstream.TcpUpstreamException e = f.cause() instanceof TcpUpstream.TcpUpstreamException x ? x : null;
        log.debug("{} -> {}: {}", t.source().name(), t.service(), f.cause().getMessage());
        fail(ctx, e != null && e.denied ? Socks5CommandStatus.FORBIDDEN
            : e != null && e.overflow ? Socks5CommandStatus.FAILURE : Socks5CommandStatus.HOST_UNREACHABLE, cmd);
        return;
      }
      Channel upstream = (Channel) f.getNow();
      if (!downstream.isActive()) {
        upstream.close();
        return;
      }
      succeed(ctx, cmd).addListener(x -> {
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
    });
  }

  private void direct(ChannelHandlerContext ctx, Socks5CommandRequest cmd, OutboundDecision.Passthrough d) {
    Channel downstream = ctx.channel();
    new Bootstrap().group(downstream.eventLoop()).channel(NioSocketChannel.class)
        .option(ChannelOption.AUTO_READ, false)
        .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, services.connectTimeoutMillis())
        .handler(new SocketRelayHandler(downstream))
        .connect(d.address(), d.port())
        .addListener((ChannelFuture cf) -> {
          if (!cf.isSuccess()) {
            fail(ctx, Socks5CommandStatus.HOST_UNREACHABLE, cmd);
            return;
          }
          Channel upstream = cf.channel();
          succeed(ctx, cmd).addListener(x -> {
            downstream.pipeline().addLast("relay", new SocketRelayHandler(upstream));
            downstream.read();
            upstream.read();
          });
        });
  }

  private static ChannelFuture succeed(ChannelHandlerContext ctx, Socks5CommandRequest cmd) {
    ChannelFuture f = ctx.writeAndFlush(new DefaultSocks5CommandResponse(Socks5CommandStatus.SUCCESS, cmd.dstAddrType(),
        cmd.dstAddr(), cmd.dstPort()));
    // From here on the connection carries the client's bytes: SOCKS handlers leave the pipeline.
    ctx.pipeline().remove(Socks5ServerEncoder.class);
    ctx.pipeline().remove("socks-command");
    ctx.pipeline().remove(ctx.handler());
    return f;
  }

  private static void fail(ChannelHandlerContext ctx, Socks5CommandStatus status, Socks5CommandRequest cmd) {
    ctx.writeAndFlush(new DefaultSocks5CommandResponse(status, cmd.dstAddrType())).addListener(ChannelFutureListener.CLOSE);
  }
}
