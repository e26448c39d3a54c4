package dev.trellis.proxy.http;

import dev.trellis.proxy.cluster.Host;
import dev.trellis.proxy.state.LocalWorkload;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.concurrent.Promise;

/**
 * One pooled upstream connection as its {@link UpstreamPool} sees it, whatever the protocol: the pool decides which
 * connection serves a request and keeps the counts, slots and waiters; the connection owns its codec and how
 * requests are leased on it ({@link Http1Connection}: one at a time, kept alive between them;
 * {@link Http2Connection}: a stream each). Confined to the pool's event loop.
 */
sealed interface UpstreamConnection permits Http1Connection, Http2Connection {

  /** Which requests it may serve (cluster, endpoint, source identity, protocol). */
  UpstreamPool.Key key();

  /** The byte channel it runs on, or null while it connects. */
  Channel channel();

  /** Opens its byte stream through the pool's dialer; {@code first} receives the first request's lease. */
  void connect(Host host, LocalWorkload source, Promise<UpstreamPool.Lease> first);

  /** Runs over an already connected byte channel: adds the codec and starts reading. */
  void attach(Channel ch);

  /**
   * Makes {@code ch} close when the server closes its side, as an HTTP connection must; returns whether it allowed
   * half-closure before (for a byte relay after a protocol switch). The sockets the destination adopts come from the
   * relay bootstrap ({@code Transport.relayConnection}), which allows half-closure: a workload's FIN then only shut
   * the input down, the connection stayed active in the pool, took the next request and never read the server's
   * reset, and that request waited for the route timeout (504 UT). An HBONE stream ends on the peer's END_STREAM
   * ({@code StreamBytesHandler}) whatever this option says. Called before the connection reads its first byte (its
   * channel comes with auto-read off and unread), so no FIN has been taken as a half-close yet.
   */
  static boolean closeWithPeer(Channel ch) {
    boolean halfClosure = Boolean.TRUE.equals(ch.config().getOption(ChannelOption.ALLOW_HALF_CLOSURE));
    if (halfClosure) {
      ch.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, false);
    }
    return halfClosure;
  }

  /**
   * The HTTP/2 connection of the HBONE stream {@code ch} rides, or null when {@code ch} is a socket: once it got GOAWAY
   * (the destination proxy drains), a connection riding the stream takes no new request and closes once idle, so the
   * destination's drain ends instead of waiting for a pooled stream until its timeout. Looked up once per connection
   * (a pipeline search by class), read on every lease and park.
   */
  static io.netty.handler.codec.http2.Http2Connection carrierOf(Channel ch) {
    if (!(ch instanceof Http2StreamChannel stream)) {
      return null;
    }
    Http2FrameCodec codec = stream.parent().pipeline().get(Http2FrameCodec.class);
    return codec == null ? null : codec.connection();
  }

  /** Closes it (once closed it gives its connection slot back to the cluster). */
  default void close() {
    Channel ch = channel();
    if (ch != null) {
      ch.close();
    }
  }
}
