package dev.trellis.proxy.inbound;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.verify.PeerIdentityHandler;
import dev.trellis.proxy.refusal.Refusal;
import dev.trellis.proxy.refusal.Refusals;
import dev.trellis.proxy.state.ProxyConfig;
import dev.trellis.proxy.transport.Transport;
import dev.trellis.proxy.tunnel.SocketToStreamHandler;
import dev.trellis.proxy.tunnel.StreamBytesHandler;
import dev.trellis.proxy.tunnel.StreamToSocketHandler;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.ReferenceCountUtil;
import java.time.Clock;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * One HBONE request stream on the server side: the first HEADERS frame is decided by
 * {@link InboundDecision} (with the identity the connection presented); a rejection is answered, recorded,
 * counted (rate-limited log line) and the stream ended; a forward connects to the
 * workload (on this stream's event loop), answers 200 only once connected (503 if that fails), then
 * hands the stream to the HTTP engine (a port declared HTTP) or the byte relays. The stream runs with auto-read off;
 * nothing it sends before the upstream is up is read. Who called is the verified peer identity and the TLS
 * connection's address; the CONNECT's {@code forwarded} header is only recorded, as the caller's claim.
 */
final class HboneStreamHandler extends ChannelInboundHandlerAdapter {

  private final Supplier<ProxyConfig> config;
  private final Set<Integer> ownPorts;
  private final HttpInspector inspector;
  private final InboundRecords records;
  private final Refusals refusals;
  private final Clock clock;
  private final int connectTimeoutMillis;
  private boolean decided;

  HboneStreamHandler(Supplier<ProxyConfig> config, Set<Integer> ownPorts, HttpInspector inspector,
      InboundRecords records, Refusals refusals, Clock clock, int connectTimeoutMillis) {
    this.config = config;
    this.ownPorts = ownPorts;
    this.inspector = inspector;
    this.records = records;
    this.refusals = refusals;
    this.clock = clock;
    this.connectTimeoutMillis = connectTimeoutMillis;
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    ctx.read();
  }

  /** What the caller's CONNECT claimed about itself, recorded as such (never used for identity or access). */
  private final Map<String, String> claimed = new HashMap<>(4);

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (decided || !(msg instanceof Http2HeadersFrame headers)) {
      ReferenceCountUtil.release(msg);
      return;
    }
    decided = true;
    Http2StreamChannel stream = (Http2StreamChannel) ctx.channel();
    SpiffeId peer = PeerIdentityHandler.peerIdentity(stream.parent());
    String from = PlaintextInbound.address(stream.parent().remoteAddress());
    String method = headers.headers().method() == null ? "" : headers.headers().method().toString();
    String authority = headers.headers().authority() == null ? "" : headers.headers().authority().toString();
    SpiffeId presented = stream.parent().attr(HboneServer.PRESENTED).get();
    InboundDecision decision = InboundDecision.decide(method, authority, peer, presented, config.get(), ownPorts);
    switch (decision) {
      case InboundDecision.Reject r -> {
        records.add(new InboundRecords.Entry(clock.instant(), peer, from, authority, null, r.status(), r.reason()));
        refusals.refuse(Refusal.Listener.HBONE, r.refusal(), peer, "CONNECT " + authority + " -> " + r.status() + ": "
            + r.reason());
        respond(ctx, r.status(), true).addListener(f -> ctx.close());
      }
      case InboundDecision.Forward f -> {
        for (String name : new String[] {"forwarded", "traceparent", "baggage"}) {
          CharSequence v = headers.headers().get(name);
          if (v != null) {
            claimed.put(name, v.toString());
          }
        }
        connect(ctx, stream, peer, from, authority, f);
      }
    }
  }

  private void connect(ChannelHandlerContext ctx, Http2StreamChannel stream, SpiffeId peer, String from,
      String authority, InboundDecision.Forward f) {
    Transport.relayConnection(stream.eventLoop(), connectTimeoutMillis)
        .connect(f.address(), f.port())
        .addListener((ChannelFuture cf) -> {
          String workload = f.target().name();
          if (!cf.isSuccess()) {
            records.add(new InboundRecords.Entry(clock.instant(), peer, from, authority, workload, 503,
                "connecting to " + authority + " failed: " + cf.cause().getMessage()));
            respond(ctx, 503, true).addListener(x -> ctx.close());
            return;
          }
          Channel upstream = cf.channel();
          if (!stream.isActive()) {
            upstream.close();
            return;
          }
          records.add(new InboundRecords.Entry(clock.instant(), peer, from, authority, workload, 200, null, claimed));
          respond(ctx, 200, false);
          if (inspector.inspects(f)) {
            ctx.pipeline().replace(this, "bytes", new StreamBytesHandler());
            inspector.inspect(stream, upstream, f.target(), peer, f.address(), f.port());
            return;
          }
          upstream.pipeline().addLast("relay", new SocketToStreamHandler(stream));
          ctx.pipeline().replace(this, "relay", new StreamToSocketHandler(upstream));
          upstream.read();
          stream.read();
        });
  }

  private static ChannelFuture respond(ChannelHandlerContext ctx, int status, boolean end) {
    Http2Headers h = new DefaultHttp2Headers().status(Integer.toString(status));
    return ctx.writeAndFlush(new DefaultHttp2HeadersFrame(h, end));
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    ctx.close();
  }
}
