package dev.trellis.proxy.inbound;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.tls.RotatingTlsContexts;
import dev.trellis.mtls.verify.ExpectedPeers;
import dev.trellis.mtls.verify.PeerIdentityHandler;
import dev.trellis.proxy.identity.CertificateManager;
import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.proxy.state.ProxyConfig;
import dev.trellis.proxy.transport.Transport;
import dev.trellis.proxy.tunnel.HboneFlowControl;
import dev.trellis.proxy.tunnel.HboneNames;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ApplicationProtocolNegotiationHandler;
import io.netty.handler.ssl.SniHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.util.AsyncMapping;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HBONE server (port 15008): HTTP/2 CONNECT over mutual TLS 1.3. The certificate presented is
 * that of the workload the connection is for: the one at the connection's local address (capture
 * mode), else the one the client names by SNI (local mode, see {@link HboneNames}); with neither,
 * or while that identity has no valid SVID, the handshake is refused. Any verified peer of the trust
 * domain may connect; what it may reach is decided per stream.
 */
public final class HboneServer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(HboneServer.class);
  /** At most this many concurrent streams per connection (the client pools accordingly). */
  public static final int MAX_STREAMS = 100;

  private final Channel channel;

  private HboneServer(Channel channel) {
    this.channel = channel;
  }

  public static HboneServer start(EventLoopGroup group, InetSocketAddress address, Supplier<ProxyConfig> config,
      CertificateManager certificates, TrustDomain trustDomain, Set<Integer> ownPorts, HttpInspector inspector,
      InboundRecords records, Clock clock) {
    return start(new ServerBootstrap(), group, address, config, certificates, trustDomain, ownPorts, inspector, records,
        clock);
  }

  /**
   * @param bootstrap the listener's bootstrap, with its socket options set (a transparent one with capture,
   *     see {@code Transport.transparent}); the local address of each accepted connection picks the certificate
   */
  public static HboneServer start(ServerBootstrap bootstrap, EventLoopGroup group, InetSocketAddress address,
      Supplier<ProxyConfig> config, CertificateManager certificates, TrustDomain trustDomain, Set<Integer> ownPorts,
      HttpInspector inspector, InboundRecords records, Clock clock) {
    ChannelInitializer<SocketChannel> init = new ChannelInitializer<>() {
      @Override
      protected void initChannel(SocketChannel ch) {
        String local = ch.localAddress().getAddress().getHostAddress();
        LocalWorkload byAddress = config.get().findLocal(local);
        if (byAddress != null) {
          Optional<RotatingTlsContexts> ctx = certificates.contexts(byAddress.identity());
          try {
            ch.pipeline().addLast("tls", ctx.orElseThrow().newServerHandler(ch.alloc()));
          } catch (RuntimeException e) {
            log.warn("refusing HBONE connection to {}: no certificate for {} ({})", local, byAddress.identity(),
                e.getMessage());
            ch.close();
            return;
          }
        } else {
          ch.pipeline().addLast("tls", new SniHandler((AsyncMapping<String, SslContext>) (sni, promise) ->
              select(sni, trustDomain, certificates, promise)));
        }
        ch.pipeline().addLast("peer", new PeerIdentityHandler(ExpectedPeers.anyVerified()));
        // HTTP/2 goes in only after the handshake, and only if ALPN chose h2: nothing may be written before TLS.
        ch.pipeline().addLast("alpn", new ApplicationProtocolNegotiationHandler("none") {
          @Override
          protected void configurePipeline(ChannelHandlerContext ctx, String protocol) {
            if (!ApplicationProtocolNames.HTTP_2.equals(protocol)) {
              log.warn("closing HBONE connection from {}: ALPN '{}' (HBONE requires h2)", ctx.channel().remoteAddress(),
                  protocol);
              ctx.close();
              return;
            }
            // Streams' writes in one event-loop turn leave as one TLS record and one write(2).
            ctx.pipeline().addLast("flush", new FlushConsolidationHandler(
                FlushConsolidationHandler.DEFAULT_EXPLICIT_FLUSH_AFTER_FLUSHES, true));
            Http2FrameCodec codec = Http2FrameCodecBuilder.forServer()
                .initialSettings(HboneFlowControl.settings(MAX_STREAMS)).build();
            ctx.pipeline().addLast("h2", codec);
            HboneFlowControl.widenConnectionWindow(ctx, codec);
            ctx.pipeline().addLast("streams", new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
              @Override
              protected void initChannel(Http2StreamChannel stream) {
                stream.config().setAutoRead(false);
                stream.pipeline().addLast(new HboneStreamHandler(config, ownPorts, inspector, records, clock, 5000));
              }
            }));
          }

          @Override
          protected void handshakeFailure(ChannelHandlerContext ctx, Throwable cause) {
            log.debug("HBONE handshake from {} failed: {}", ctx.channel().remoteAddress(), cause.getMessage());
            ctx.close();
          }
        });
      }
    };
    Channel ch = bootstrap.group(group).channel(Transport.serverChannel())
        .childOption(ChannelOption.TCP_NODELAY, true)
        .childHandler(init)
        .bind(address).syncUninterruptibly().channel();
    return new HboneServer(ch);
  }

  private static Promise<SslContext> select(String sni, TrustDomain trustDomain, CertificateManager certificates,
      Promise<SslContext> promise) {
    SpiffeId identity = HboneNames.identity(sni, trustDomain);
    if (identity == null) {
      return promise.setFailure(new IllegalArgumentException("no workload for TLS server name '" + sni + "'"));
    }
    try {
      return promise.setSuccess(certificates.contexts(identity).orElseThrow(() ->
          new IllegalArgumentException("no local workload has identity " + identity)).serverContext());
    } catch (RuntimeException e) {
      return promise.setFailure(e);
    }
  }

  public InetSocketAddress address() {
    return (InetSocketAddress) channel.localAddress();
  }

  @Override
  public void close() {
    channel.close().syncUninterruptibly();
  }
}
