package dev.trellis.proxy.tunnel;

import static java.util.Objects.requireNonNull;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.verify.ExpectedPeers;
import dev.trellis.mtls.verify.PeerIdentityHandler;
import dev.trellis.proxy.identity.CertificateManager;
import dev.trellis.proxy.transport.Transport;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ApplicationProtocolNegotiationHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Opens HBONE streams from one event loop: HTTP/2 CONNECT over mutual TLS 1.3 to a peer node proxy,
 * presenting the <em>source</em> workload's SVID and accepting only the destination workload's
 * identity. Connections are pooled per (source identity, destination identity, dial address), each
 * carrying at most {@link #MAX_STREAMS} streams, and closed after {@link #IDLE_MILLIS} without any.
 *
 * <p>Confined to its event loop (no locks): downstream connections of that loop use it, so the
 * upstream connection lives on the same loop as the downstream one.
 */
public final class HboneConnector {

  private static final Logger log = LoggerFactory.getLogger(HboneConnector.class);

  public static final int MAX_STREAMS = 100;
  static final long IDLE_MILLIS = 60_000;

  /** Why a stream could not be opened, in words an operator can act on. */
  public static final class HboneException extends RuntimeException {
    private final int status;

    HboneException(String message, int status, Throwable cause) {
      super(message, cause);
      this.status = status;
    }

    /** The peer's HTTP status, or 0 if it never answered (connection or TLS failure). */
    public int status() {
      return status;
    }
  }

  private record Key(SpiffeId source, SpiffeId destination, InetSocketAddress dial) {}

  private static final class Connection {
    final Channel channel;
    final Promise<Channel> ready;
    int streams;
    ScheduledFuture<?> idle;

    Connection(Channel channel, Promise<Channel> ready) {
      this.channel = channel;
      this.ready = ready;
    }
  }

  private final EventLoop loop;
  private final CertificateManager certificates;
  private final int connectTimeoutMillis;
  private final long keepAliveMillis;
  private final Map<Key, List<Connection>> pool = new HashMap<>();

  public HboneConnector(EventLoop loop, CertificateManager certificates, int connectTimeoutMillis) {
    this(loop, certificates, connectTimeoutMillis, HboneKeepAliveHandler.DEFAULT_INTERVAL_MILLIS);
  }

  /** @param keepAliveMillis quiet time before a keep-alive PING, and the time its answer may take */
  public HboneConnector(EventLoop loop, CertificateManager certificates, int connectTimeoutMillis, long keepAliveMillis) {
    this.loop = requireNonNull(loop, "loop");
    this.certificates = requireNonNull(certificates, "certificates");
    this.connectTimeoutMillis = connectTimeoutMillis;
    if (keepAliveMillis <= 0) {
      throw new IllegalArgumentException("keepAliveMillis: " + keepAliveMillis + " (expected: > 0)");
    }
    this.keepAliveMillis = keepAliveMillis;
  }

  /**
   * Opens a CONNECT stream to {@code authority} ({@code ip:port} of the destination workload) through
   * the node proxy at {@code dial}. The future completes with the stream once the peer answered 200;
   * the stream has auto-read off. Must be called on this connector's event loop.
   */
  public Future<Http2StreamChannel> open(SpiffeId source, SpiffeId destination, InetSocketAddress dial, String authority,
      Http2Headers extraHeaders) {
    Promise<Http2StreamChannel> result = loop.newPromise();
    open(new Key(source, destination, dial), authority, extraHeaders, result, REOPENS);
    return result;
  }

  /**
   * How many times a CONNECT stream that ended before any answer is opened again on another connection. Nothing of
   * the caller's bytes has gone out then (they follow the 200), so a new stream is always safe; the case it is for is
   * a peer that is draining: its GOAWAY crossed our new stream, which it never processed.
   */
  static final int REOPENS = 1;

  private void open(Key key, String authority, Http2Headers extraHeaders, Promise<Http2StreamChannel> result,
      int reopens) {
    SpiffeId source = key.source();
    SpiffeId destination = key.destination();
    InetSocketAddress dial = key.dial();
    Connection conn = reusable(key);
    if (conn == null) {
      conn = connect(key);
      if (conn == null) {
        result.setFailure(new HboneException("no certificate for " + source
            + " yet; the workload cannot send mTLS traffic until its SVID is issued", 0, null));
        return;
      }
    }
    Connection c = conn;
    c.streams++;
    if (c.idle != null) {
      c.idle.cancel(false);
      c.idle = null;
    }
    c.ready.addListener(f -> {
      if (!f.isSuccess()) {
        release(key, c);
        result.setFailure(new HboneException("HBONE connection to " + dial + " for " + destination + " failed: "
            + f.cause().getMessage() + " (is the peer node proxy up, and is port 15008 reachable?)", 0, f.cause()));
        return;
      }
      openStream(key, c, authority, extraHeaders, result, reopens);
    });
  }

  private Connection reusable(Key key) {
    List<Connection> list = pool.get(key);
    if (list == null) {
      return null;
    }
    for (Connection c : list) {
      if (c.channel.isActive() && c.streams < MAX_STREAMS && !goAwayReceived(c.channel)) {
        return c;
      }
    }
    return null;
  }

  /** The peer sent GOAWAY (it is draining): the streams open on it finish, new ones go to a new connection. */
  private static boolean goAwayReceived(Channel channel) {
    Http2FrameCodec codec = channel.pipeline().get(Http2FrameCodec.class);
    return codec != null && codec.connection().goAwayReceived();
  }

  private Connection connect(Key key) {
    var contexts = certificates.contexts(key.source());
    if (contexts.isEmpty()) {
      return null;
    }
    Promise<Channel> ready = loop.newPromise();
    ChannelFuture cf;
    try {
      var ssl = contexts.get().clientContext();
      cf = new Bootstrap().group(loop).channel(Transport.socketChannel())
          .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectTimeoutMillis)
          .option(ChannelOption.TCP_NODELAY, true)
          .option(ChannelOption.RCVBUF_ALLOCATOR, Transport.bulkReads())
          .handler(new ChannelInitializer<SocketChannel>() {
            @Override
            protected void initChannel(SocketChannel ch) {
              ch.pipeline().addLast("tls", ssl.newHandler(ch.alloc(), HboneNames.sni(key.destination()),
                  key.dial().getPort()));
              ch.pipeline().addLast("peer", new PeerIdentityHandler(ExpectedPeers.exactly(key.destination())));
              ch.pipeline().addLast("alpn", new ApplicationProtocolNegotiationHandler("none") {
                @Override
                protected void configurePipeline(ChannelHandlerContext ctx, String protocol) {
                  if (!ApplicationProtocolNames.HTTP_2.equals(protocol)) {
                    ready.tryFailure(new IllegalStateException("peer negotiated ALPN '" + protocol
                        + "', HBONE requires h2"));
                    ctx.close();
                    return;
                  }
                  // Streams' writes in one event-loop turn leave as one TLS record and one write(2).
                  ctx.pipeline().addLast("flush", new FlushConsolidationHandler(
                      FlushConsolidationHandler.DEFAULT_EXPLICIT_FLUSH_AFTER_FLUSHES, true));
                  Http2FrameCodec codec = Http2FrameCodecBuilder.forClient()
                      .initialSettings(HboneFlowControl.settings(0)).build();
                  ctx.pipeline().addLast("h2", codec);
                  HboneFlowControl.widenConnectionWindow(ctx, codec);
                  ctx.pipeline().addLast("keepalive", new HboneKeepAliveHandler(keepAliveMillis));
                  ctx.pipeline().addLast("streams", new Http2MultiplexHandler(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext c, Object msg) {
                      ReferenceCountUtil.release(msg); // the server never opens streams toward us
                      c.close();
                    }
                  }));
                  ready.trySuccess(ctx.channel());
                }

                @Override
                protected void handshakeFailure(ChannelHandlerContext ctx, Throwable cause) {
                  ready.tryFailure(cause);
                  ctx.close();
                }
              });
            }
          })
          .connect(key.dial());
    } catch (RuntimeException e) {
      ready.setFailure(e);
      return new Connection(null, ready);
    }
    cf.addListener(f -> {
      if (!f.isSuccess()) {
        ready.tryFailure(f.cause());
      }
    });
    cf.channel().closeFuture().addListener(f -> {
      ready.tryFailure(new ClosedChannelException());
      List<Connection> list = pool.get(key);
      if (list != null) {
        list.removeIf(c -> c.channel == cf.channel());
      }
    });
    Connection c = new Connection(cf.channel(), ready);
    pool.computeIfAbsent(key, k -> new ArrayList<>()).add(c);
    return c;
  }

  private void openStream(Key key, Connection c, String authority, Http2Headers extra,
      Promise<Http2StreamChannel> result, int reopens) {
    Runnable reopen = reopens == 0 ? null : () -> {
      log.debug("HBONE stream to {} on {} ended before an answer (peer draining?): opening it again", authority,
          c.channel.remoteAddress());
      open(key, authority, extra, result, reopens - 1);
    };
    new Http2StreamChannelBootstrap(c.channel).handler(new ChannelInitializer<Http2StreamChannel>() {
      @Override
      protected void initChannel(Http2StreamChannel stream) {
        stream.config().setAutoRead(false);
        stream.pipeline().addLast("response", new ResponseHandler(authority, result, reopen));
      }
    }).open().addListener(f -> {
      if (!f.isSuccess()) {
        release(key, c);
        result.tryFailure(new HboneException("cannot open an HBONE stream to " + c.channel.remoteAddress() + ": "
            + f.cause().getMessage(), 0, f.cause()));
        return;
      }
      Http2StreamChannel stream = (Http2StreamChannel) f.getNow();
      stream.closeFuture().addListener(x -> release(key, c));
      Http2Headers h = new DefaultHttp2Headers().method("CONNECT").authority(authority);
      if (extra != null) {
        h.add(extra);
      }
      stream.writeAndFlush(new DefaultHttp2HeadersFrame(h, false));
      stream.read();
    });
  }

  private void release(Key key, Connection c) {
    c.streams--;
    if (c.streams == 0 && c.channel != null && c.channel.isActive()) {
      c.idle = loop.schedule(() -> {
        if (c.streams == 0) {
          c.channel.close();
        }
      }, IDLE_MILLIS, TimeUnit.MILLISECONDS);
    }
  }

  /** Pooled connections, for admin output: how many per destination. */
  public int connections() {
    return pool.values().stream().mapToInt(List::size).sum();
  }

  /** Waits for the CONNECT response: 200 hands the stream over, anything else fails the open. */
  private static final class ResponseHandler extends ChannelInboundHandlerAdapter {
    private final String authority;
    private final Promise<Http2StreamChannel> result;
    private final Runnable reopen;

    /** @param reopen opens the CONNECT again if this stream ends before any answer; null: fail instead */
    ResponseHandler(String authority, Promise<Http2StreamChannel> result, Runnable reopen) {
      this.authority = authority;
      this.result = result;
      this.reopen = reopen;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      try {
        if (msg instanceof Http2HeadersFrame h) {
          CharSequence status = h.headers().status();
          if (status != null && status.toString().equals("200")) {
            ctx.pipeline().remove(this);
            result.trySuccess((Http2StreamChannel) ctx.channel());
          } else {
            int code = status == null ? 0 : Integer.parseInt(status.toString());
            result.tryFailure(new HboneException("HBONE peer refused " + authority + " with status " + status, code, null));
            ctx.close();
          }
          return;
        }
        ctx.read();
      } finally {
        ReferenceCountUtil.release(msg);
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      if (result.isDone()) {
        return;
      }
      if (reopen != null) {
        // After the stream's own close has run (its connection's stream count released), on the same event loop.
        ctx.channel().eventLoop().execute(reopen);
        return;
      }
      result.tryFailure(new HboneException("HBONE stream to " + authority + " closed before a response", 0, null));
    }
  }
}
