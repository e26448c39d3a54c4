package dev.trellis.proxy.outbound;

import static java.util.Objects.requireNonNull;

import dev.trellis.proxy.cluster.Host;
import dev.trellis.proxy.http.UpstreamDialer;
import dev.trellis.proxy.http.UpstreamPool.UpstreamException;
import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.proxy.transport.Transport;
import dev.trellis.proxy.tunnel.HboneConnector;
import dev.trellis.proxy.tunnel.StreamBytesHandler;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;

/**
 * How the HTTP engine's upstream connections of one event loop reach an endpoint ({@link UpstreamTarget}): an HBONE
 * stream (behind a {@link StreamBytesHandler}, so the codecs see bytes) when source and endpoint are both in the mesh,
 * else a plain TCP connection; auto-read off either way.
 */
final class EndpointDialer implements UpstreamDialer {

  private final EventLoop loop;
  private final HboneConnector hbone;
  private final HboneDialing dialing;
  private final int connectTimeoutMillis;

  EndpointDialer(EventLoop loop, HboneConnector hbone, HboneDialing dialing, int connectTimeoutMillis) {
    this.loop = requireNonNull(loop, "loop");
    this.hbone = requireNonNull(hbone, "hbone");
    this.dialing = requireNonNull(dialing, "dialing");
    this.connectTimeoutMillis = connectTimeoutMillis;
  }

  @Override
  public Future<Channel> open(Host host, LocalWorkload source) {
    Promise<Channel> p = loop.newPromise();
    switch (UpstreamTarget.of(source, host.endpoint(), dialing)) {
      case UpstreamTarget.Hbone t -> {
        hbone.open(t.source(), t.destination(), t.dial(), t.authority(), TunnelHeaders.of(source)).addListener(f -> {
          if (!f.isSuccess()) {
            HboneConnector.HboneException e = f.cause() instanceof HboneConnector.HboneException x ? x : null;
            boolean denied = e != null && (e.status() == 401 || e.status() == 403);
            p.setFailure(new UpstreamException(denied ? UpstreamException.Kind.DENIED
                : UpstreamException.Kind.CONNECT_FAILURE, f.cause().getMessage(), f.cause()));
            return;
          }
          Http2StreamChannel stream = (Http2StreamChannel) f.getNow();
          stream.pipeline().addFirst("bytes", new StreamBytesHandler());
          p.setSuccess(stream);
        });
      }
      case UpstreamTarget.Direct d -> new Bootstrap().group(loop).channel(Transport.socketChannel())
          .option(ChannelOption.AUTO_READ, false)
          .option(ChannelOption.TCP_NODELAY, true)
          .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectTimeoutMillis)
          .handler(new ChannelInboundHandlerAdapter())
          .connect(d.address(), d.port())
          .addListener((ChannelFuture f) -> {
            if (f.isSuccess()) {
              p.setSuccess(f.channel());
            } else {
              p.setFailure(new UpstreamException(UpstreamException.Kind.CONNECT_FAILURE, "connection to " + d.address()
                  + ":" + d.port() + " failed: " + f.cause().getMessage(), f.cause()));
            }
          });
    }
    return p;
  }
}
