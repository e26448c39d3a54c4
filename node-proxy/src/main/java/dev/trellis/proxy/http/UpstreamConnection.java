package dev.trellis.proxy.http;

import dev.trellis.proxy.cluster.Host;
import dev.trellis.proxy.state.LocalWorkload;
import io.netty.channel.Channel;
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

  /** Closes it (once closed it gives its connection slot back to the cluster). */
  default void close() {
    Channel ch = channel();
    if (ch != null) {
      ch.close();
    }
  }
}
