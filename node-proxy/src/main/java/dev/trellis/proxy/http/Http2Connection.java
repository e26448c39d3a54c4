package dev.trellis.proxy.http;

import dev.trellis.proxy.cluster.ClusterRuntime;
import dev.trellis.proxy.cluster.Host;
import dev.trellis.proxy.resilience.CircuitBreaker.Resource;
import dev.trellis.proxy.state.LocalWorkload;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Promise;
import java.util.ArrayList;
import java.util.List;

/**
 * An upstream HTTP/2 connection: each request is a stream on it, up to {@link UpstreamPool#MAX_H2_STREAMS} or the
 * server's lower limit; a GOAWAY makes it take no new streams. Its pipeline is the byte channel's handlers,
 * {@code h2} ({@link Http2FrameCodec}), {@code streams} ({@link Http2MultiplexHandler}) and {@code goaway}; each
 * stream channel has {@code http} ({@link Http2StreamFrameToHttpObjectCodec}) and {@code lease}
 * ({@link LeaseHandler}). Confined to the pool's event loop.
 */
final class Http2Connection implements UpstreamConnection {

  private final UpstreamPool pool;
  private final UpstreamPool.Key key;
  private final ClusterRuntime cluster;
  private final Promise<Channel> ready;
  private Channel channel;
  /** The HTTP/2 connection of the HBONE stream it rides, or null over a socket ({@link UpstreamConnection#carrierOf}). */
  private io.netty.handler.codec.http2.Http2Connection carrier;
  private int streams;
  private int served;
  private boolean draining;
  /** Since when it carries no stream (the pool's ticker, nanos): the pool's sweep closes it after a while. */
  long idleSince;
  private final List<StreamLease> open = new ArrayList<>();

  Http2Connection(UpstreamPool pool, UpstreamPool.Key key, ClusterRuntime cluster) {
    this.pool = pool;
    this.key = key;
    this.cluster = cluster;
    this.ready = pool.loop().newPromise();
  }

  @Override
  public UpstreamPool.Key key() {
    return key;
  }

  @Override
  public Channel channel() {
    return channel;
  }

  /** Whether it carries no stream: closing it loses no request and frees its connection slot. */
  boolean idle() {
    return streams == 0;
  }

  /**
   * Whether it takes no new stream because its server sent GOAWAY or because it rides an HBONE stream whose
   * connection got GOAWAY (the destination proxy drains; {@link UpstreamConnection#carrierOf}).
   */
  boolean draining() {
    return draining || carrier != null && carrier.goAwayReceived();
  }

  /** Whether a new stream may open on it now (or once it is connected). */
  boolean hasRoom() {
    if (ready.isDone() && (!ready.isSuccess() || !channel.isActive()) || draining()) {
      return false;
    }
    int limit = UpstreamPool.MAX_H2_STREAMS;
    if (channel != null) {
      Http2FrameCodec codec = channel.pipeline().get(Http2FrameCodec.class);
      if (codec != null) {
        limit = Math.min(limit, codec.connection().local().maxActiveStreams());
      }
    }
    return streams < limit;
  }

  @Override
  public void connect(Host host, LocalWorkload source, Promise<UpstreamPool.Lease> first) {
    pool.dialer().open(host, source).addListener(f -> {
      if (!f.isSuccess()) {
        pool.connectFailed(cluster);
        pool.forget(this);
        ready.setFailure(f.cause());
        pool.serveWaiters();
        return;
      }
      attach((Channel) f.getNow());
    });
    openStream(first);
  }

  @Override
  public void attach(Channel ch) {
    channel = ch;
    carrier = UpstreamConnection.carrierOf(ch);
    UpstreamConnection.closeWithPeer(ch);
    channel.pipeline().addLast("h2", Http2FrameCodecBuilder.forClient()
        .initialSettings(Http2Settings.defaultSettings().maxHeaderListSize(pool.maxResponseHeaderBytes())).build());
    channel.pipeline().addLast("streams", new Http2MultiplexHandler(new ChannelInboundHandlerAdapter() {
      @Override
      public void channelRead(ChannelHandlerContext c, Object msg) {
        ReferenceCountUtil.release(msg); // servers do not push to us
        c.close();
      }
    }));
    channel.pipeline().addLast("goaway", new ChannelInboundHandlerAdapter() {
      @Override
      public void channelRead(ChannelHandlerContext c, Object msg) {
        if (msg instanceof Http2GoAwayFrame) {
          draining = true;
        }
        ReferenceCountUtil.release(msg);
      }

      /**
       * The upstream broke HTTP/2 for the whole connection (e.g. a header list far over the limit): the codec reports
       * it here before it sends GOAWAY and closes, and every open stream's request learns it as a protocol error
       * (502 UPE) rather than as a bare disconnect.
       */
      @Override
      public void exceptionCaught(ChannelHandlerContext c, Throwable cause) {
        if (cause instanceof Http2Exception e) {
          List.copyOf(open).forEach(l -> l.protocolError(e));
        }
        c.fireExceptionCaught(cause);
      }
    });
    channel.config().setAutoRead(true);
    pool.opened(channel, cluster, () -> pool.forget(this));
    ready.setSuccess(channel);
    if (streams == 0) {
      pool.idle(this); // adopted: its first request comes later, if at all
    }
  }

  /** A stream ended (or never opened): once it carries none, it closes if it drains, else it idles in the pool. */
  private void streamEnded() {
    if (--streams > 0 || channel == null) {
      return;
    }
    if (draining()) {
      channel.close();
    } else {
      pool.idle(this);
    }
  }

  /** Opens a stream for one request once the connection is ready; {@code p} receives its lease. */
  void openStream(Promise<UpstreamPool.Lease> p) {
    streams++;
    ready.addListener(f -> {
      if (!f.isSuccess()) {
        streams--;
        p.tryFailure(f.cause());
        return;
      }
      new Http2StreamChannelBootstrap(channel).handler(new ChannelInitializer<Http2StreamChannel>() {
        @Override
        protected void initChannel(Http2StreamChannel s) {
          s.pipeline().addLast("http", new Http2StreamFrameToHttpObjectCodec(false));
          s.pipeline().addLast("lease", new LeaseHandler());
        }
      }).open().addListener(o -> {
        if (!o.isSuccess()) {
          streamEnded();
          p.tryFailure(new UpstreamPool.UpstreamException(UpstreamPool.UpstreamException.Kind.CONNECT_FAILURE,
              "cannot open an HTTP/2 stream to " + key.host() + ": " + o.cause().getMessage(), o.cause()));
          pool.serveWaiters();
          return;
        }
        StreamLease lease = new StreamLease((Http2StreamChannel) o.getNow(), served++ > 0);
        open.add(lease);
        if (!p.trySuccess(lease)) {
          lease.release(false);
        }
      });
    });
  }

  /** One request's stream. */
  private final class StreamLease implements UpstreamPool.Lease {
    private final Http2StreamChannel stream;
    private final boolean reused;
    private boolean released;

    StreamLease(Http2StreamChannel stream, boolean reused) {
      this.stream = stream;
      this.reused = reused;
    }

    @Override
    public Channel channel() {
      return stream;
    }

    void protocolError(Http2Exception e) {
      LeaseHandler h = stream.pipeline().get(LeaseHandler.class);
      if (h != null) {
        h.protocolError(e);
      }
    }

    @Override
    public boolean reused() {
      return reused;
    }

    @Override
    public void listen(UpstreamPool.UpstreamListener listener) {
      stream.pipeline().get(LeaseHandler.class).listener = listener;
    }

    @Override
    public Channel detach(ChannelHandler relay) {
      throw new UnsupportedOperationException("an HTTP/2 stream cannot switch protocols");
    }

    @Override
    public void release(boolean reusable) {
      if (released) {
        return;
      }
      released = true;
      open.remove(this);
      stream.pipeline().get(LeaseHandler.class).listener = null;
      if (stream.isActive()) {
        stream.close();
      }
      streamEnded();
      pool.serveWaiters();
      if (streams == 0 && cluster.breaker().used(Resource.PENDING_REQUESTS) > 0) {
        channel.close(); // requests wait on another event loop: free the connection slot for them
      }
    }
  }
}
