package dev.trellis.proxy.http;

import dev.trellis.proxy.cluster.ClusterRuntime;
import dev.trellis.proxy.cluster.Host;
import dev.trellis.proxy.state.LocalWorkload;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.util.concurrent.Promise;

/**
 * An upstream HTTP/1.1 connection: leased to one request at a time and parked in its pool's idle list between
 * requests. Its pipeline is the byte channel's handlers, {@code http} ({@link HttpClientCodec}) and {@code lease}
 * ({@link LeaseHandler}). A protocol switch (101) detaches it from the pool for good. Confined to the pool's event loop.
 */
final class Http1Connection implements UpstreamConnection {

  private final UpstreamPool pool;
  private final UpstreamPool.Key key;
  private final ClusterRuntime cluster;
  private final LeaseHandler handler = new LeaseHandler();
  private Channel channel;
  /** The HTTP/2 connection of the HBONE stream it rides, or null over a socket ({@link UpstreamConnection#carrierOf}). */
  private io.netty.handler.codec.http2.Http2Connection carrier;
  /** Whether the byte channel allowed half-closure before it carried HTTP (restored for a relay after a 101). */
  private boolean halfClosure;
  /** When it was parked (the pool's ticker, nanos); the pool's sweep closes it after {@link UpstreamPool#IDLE_MILLIS}. */
  long idleSince;
  /** Adopted for a downstream connection that has ended: closed instead of parked ({@link UpstreamPool#adopt}). */
  boolean retired;

  Http1Connection(UpstreamPool pool, UpstreamPool.Key key, ClusterRuntime cluster) {
    this.pool = pool;
    this.key = key;
    this.cluster = cluster;
  }

  @Override
  public UpstreamPool.Key key() {
    return key;
  }

  @Override
  public Channel channel() {
    return channel;
  }

  ClusterRuntime cluster() {
    return cluster;
  }

  /**
   * Whether this connection rides an HBONE stream whose connection got GOAWAY (the destination proxy drains): it
   * serves no further request, so the destination's drain ends instead of waiting for an idle pooled stream.
   */
  boolean peerDraining() {
    return carrier != null && carrier.goAwayReceived();
  }

  @Override
  public void connect(Host host, LocalWorkload source, Promise<UpstreamPool.Lease> first) {
    pool.dialer().open(host, source).addListener(f -> {
      if (!f.isSuccess()) {
        pool.connectFailed(cluster);
        first.tryFailure(f.cause());
        pool.serveWaiters();
        return;
      }
      attach((Channel) f.getNow());
      lease(first, false);
    });
  }

  @Override
  public void attach(Channel ch) {
    channel = ch;
    carrier = UpstreamConnection.carrierOf(ch);
    halfClosure = UpstreamConnection.closeWithPeer(ch);
    channel.pipeline().addLast("http", new HttpClientCodec(pool.decoderConfig(), true, false));
    channel.pipeline().addLast("lease", handler);
    channel.config().setAutoRead(true);
    pool.opened(channel, cluster, () -> pool.forgetIdle(this));
  }

  /** Completes {@code p} with a lease of this connection, or parks it again if {@code p} is already done. */
  void lease(Promise<UpstreamPool.Lease> p, boolean reused) {
    UpstreamPool.Lease lease = newLease(reused);
    if (!p.trySuccess(lease)) {
      lease.release(true);
    }
  }

  UpstreamPool.Lease newLease(boolean reused) {
    return new UpstreamPool.Lease() {
      boolean released;

      @Override
      public Channel channel() {
        return channel;
      }

      @Override
      public void listen(UpstreamPool.UpstreamListener listener) {
        handler.listener = listener;
      }

      @Override
      public boolean reused() {
        return reused;
      }

      @Override
      public void release(boolean reusable) {
        if (released) {
          return;
        }
        released = true;
        handler.listener = null;
        channel.config().setAutoRead(true); // an attempt may have paused reading for backpressure
        if (reusable && channel.isActive()) {
          pool.park(Http1Connection.this);
        } else {
          channel.close();
        }
      }

      @Override
      public Channel detach(ChannelHandler relay) {
        released = true;
        handler.listener = null;
        channel.config().setAutoRead(false);
        if (halfClosure) {
          channel.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, true); // the relay carries a half-close on
        }
        ChannelPipeline p = channel.pipeline();
        p.addLast("relay", relay);
        p.remove(handler);
        p.remove("http"); // the decoder hands bytes it holds past the 101 to the relay
        if (p.get("bytes") != null) {
          p.remove("bytes"); // an HBONE stream: the relay speaks DATA frames (half-close is END_STREAM)
        }
        return channel;
      }
    };
  }
}
