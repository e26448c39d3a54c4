package dev.trellis.proxy.inbound;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.tls.RotatingTlsContexts;
import dev.trellis.mtls.verify.ExpectedPeers;
import dev.trellis.mtls.verify.PeerIdentityHandler;
import dev.trellis.proxy.drain.GoAwayOnDrainHandler;
import dev.trellis.proxy.identity.CertificateManager;
import dev.trellis.proxy.refusal.Refusal;
import dev.trellis.proxy.refusal.Refusals;
import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.proxy.state.ProxyConfig;
import dev.trellis.proxy.transport.Transport;
import dev.trellis.proxy.tunnel.HboneFlowControl;
import dev.trellis.proxy.tunnel.HboneNames;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ApplicationProtocolNegotiationHandler;
import io.netty.handler.ssl.SniHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.util.AsyncMapping;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The HBONE server (port 15008): HTTP/2 CONNECT over mutual TLS 1.3. The certificate presented is
 * that of the workload the connection is for: the one at the connection's local address (capture
 * mode), else the one the client names by SNI (local mode, see {@link HboneNames}); with neither,
 * or while that identity has no valid SVID, the handshake is refused. Any verified peer of the trust
 * domain may connect; what it may reach is decided per stream, and only workloads with the identity the
 * connection presented ({@link #PRESENTED}) are reachable on it. Whatever is refused before the peer is
 * verified is counted and logged at most once per window and kind ({@link RefusalHandler}), never per attempt.
 */
public final class HboneServer implements AutoCloseable {

  /** At most this many concurrent streams per connection (the client pools accordingly). */
  public static final int MAX_STREAMS = 100;

  /**
   * The identity whose certificate this connection presented: the workload at the dialed address (capture mode),
   * else the one the TLS server name named (local mode). A CONNECT may reach only workloads with this identity.
   */
  static final AttributeKey<SpiffeId> PRESENTED = AttributeKey.valueOf("trellis.hbone.presented");

  private final Channel channel;

  private HboneServer(Channel channel) {
    this.channel = channel;
  }

  public static HboneServer start(EventLoopGroup group, InetSocketAddress address, Supplier<ProxyConfig> config,
      CertificateManager certificates, TrustDomain trustDomain, Set<Integer> ownPorts, HttpInspector inspector,
      InboundRecords records, Refusals refusals, Clock clock) {
    return start(new ServerBootstrap(), group, address, config, certificates, trustDomain, ownPorts, inspector, records,
        refusals, clock);
  }

  /**
   * @param bootstrap the listener's bootstrap, with its socket options set (a transparent one with capture,
   *     see {@code Transport.transparent}); the local address of each accepted connection picks the certificate
   * @param refusals counts and logs (rate-limited) what is refused before the peer is authenticated, and streams
   */
  public static HboneServer start(ServerBootstrap bootstrap, EventLoopGroup group, InetSocketAddress address,
      Supplier<ProxyConfig> config, CertificateManager certificates, TrustDomain trustDomain, Set<Integer> ownPorts,
      HttpInspector inspector, InboundRecords records, Refusals refusals, Clock clock) {
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
            refusals.refuse(Refusal.Listener.HBONE, Refusal.NO_CERTIFICATE, ch.remoteAddress(), "no certificate for "
                + byAddress.identity() + " (the workload at " + local + ") yet: " + e.getMessage());
            ch.close();
            return;
          }
          ch.attr(PRESENTED).set(byAddress.identity());
        } else {
          ch.pipeline().addLast("tls", new WorkloadSniHandler((sni, promise) ->
              select(ch, sni, trustDomain, certificates, promise)));
        }
        ch.pipeline().addLast("peer", new PeerIdentityHandler(ExpectedPeers.anyVerified()));
        RefusalHandler refused = new RefusalHandler(refusals);
        // HTTP/2 goes in only after the handshake, and only if ALPN chose h2: nothing may be written before TLS.
        ch.pipeline().addLast("alpn", new ApplicationProtocolNegotiationHandler("none") {
          @Override
          protected void configurePipeline(ChannelHandlerContext ctx, String protocol) {
            if (!ApplicationProtocolNames.HTTP_2.equals(protocol)) {
              refused.refuse(ctx, Refusal.ALPN, "ALPN '" + protocol + "' (HBONE requires h2)");
              return;
            }
            // Streams' writes in one event-loop turn leave as one TLS record and one write(2).
            ctx.pipeline().addBefore("refused", "flush", new FlushConsolidationHandler(
                FlushConsolidationHandler.DEFAULT_EXPLICIT_FLUSH_AFTER_FLUSHES, true));
            Http2FrameCodec codec = Http2FrameCodecBuilder.forServer()
                .initialSettings(HboneFlowControl.settings(MAX_STREAMS)).build();
            ctx.pipeline().addBefore("refused", "h2", codec);
            ctx.pipeline().addBefore("refused", "drain", GoAwayOnDrainHandler.hbone());
            HboneFlowControl.widenConnectionWindow(ctx, codec);
            ctx.pipeline().addBefore("refused", "streams", new Http2MultiplexHandler(
                new ChannelInitializer<Http2StreamChannel>() {
                  @Override
                  protected void initChannel(Http2StreamChannel stream) {
                    stream.config().setAutoRead(false);
                    stream.pipeline().addLast(new HboneStreamHandler(config, ownPorts, inspector, records, refusals,
                        clock, 5000));
                  }
                }));
          }

          @Override
          public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.fireExceptionCaught(cause); // to "refused": counted and logged there, at most once per window
          }

          @Override
          protected void handshakeFailure(ChannelHandlerContext ctx, Throwable cause) {
            ctx.fireExceptionCaught(cause); // never Netty's warning with a stack trace; "refused" counts it once
          }
        });
        ch.pipeline().addLast("refused", refused);
      }
    };
    Channel ch = Transport.listener(bootstrap, group)
        .childOption(ChannelOption.TCP_NODELAY, true)
        .childOption(ChannelOption.RCVBUF_ALLOCATOR, Transport.bulkReads())
        .childHandler(init)
        .bind(address).syncUninterruptibly().channel();
    return new HboneServer(ch);
  }

  /**
   * Picks the certificate by the TLS server name and remembers on the connection which identity it presents
   * ({@link #PRESENTED}); a first record that is no ClientHello at all fails as {@link Refusal#NOT_TLS} rather
   * than as a ClientHello without a name.
   */
  private static final class WorkloadSniHandler extends SniHandler {
    WorkloadSniHandler(AsyncMapping<String, SslContext> mapping) {
      super(mapping);
    }

    @Override
    protected Future<SslContext> lookup(ChannelHandlerContext ctx, ByteBuf clientHello) throws Exception {
      if (clientHello == null) {
        return ctx.executor().newFailedFuture(new Refused(Refusal.NOT_TLS, "not a TLS ClientHello"));
      }
      return super.lookup(ctx, clientHello);
    }
  }

  private static Future<SslContext> select(Channel ch, String sni, TrustDomain trustDomain,
      CertificateManager certificates, Promise<SslContext> promise) {
    if (sni == null) {
      return promise.setFailure(new Refused(Refusal.NO_SNI, "TLS ClientHello without a server name, and no workload "
          + "has the address " + ((InetSocketAddress) ch.localAddress()).getAddress().getHostAddress()
          + " it dialed (Trellis clients send <serviceAccount>.<namespace>.id.trellis)"));
    }
    SpiffeId identity = HboneNames.identity(sni, trustDomain);
    if (identity == null) {
      return promise.setFailure(new Refused(Refusal.UNKNOWN_SNI, "TLS server name '" + sni + "' names no workload "
          + "identity (expected <serviceAccount>.<namespace>.id.trellis)"));
    }
    Optional<RotatingTlsContexts> contexts = certificates.contexts(identity);
    if (contexts.isEmpty()) {
      return promise.setFailure(new Refused(Refusal.UNKNOWN_SNI, "TLS server name '" + sni + "': no workload of this "
          + "node has identity " + identity));
    }
    SslContext context;
    try {
      context = contexts.get().serverContext();
    } catch (RuntimeException e) {
      return promise.setFailure(new Refused(Refusal.NO_CERTIFICATE, "no certificate for " + identity + " yet: "
          + e.getMessage()));
    }
    ch.attr(PRESENTED).set(identity);
    return promise.setSuccess(context);
  }

  /** Why the server refused a connection before the handshake; no stack trace (cheap, and never logged). */
  static final class Refused extends RuntimeException {
    private final Refusal reason;

    Refused(Refusal reason, String message) {
      super(message, null, false, false);
      this.reason = reason;
    }

    Refusal reason() {
      return reason;
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
