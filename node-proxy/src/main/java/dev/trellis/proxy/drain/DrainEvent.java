package dev.trellis.proxy.drain;

import io.netty.channel.Channel;
import io.netty.util.AttributeKey;
import java.time.Duration;

/**
 * Fired (as a user event, on the connection's own event loop) through the pipeline of every tracked downstream
 * connection when the proxy starts draining. The handler that knows the connection's protocol asks
 * {@link DrainDecision} and acts; a handler installed later (the protocol was not known yet) reads
 * {@link #of(Channel)} when it first needs to know.
 *
 * @param timeout the drain's timeout: what is still open then is closed
 */
public record DrainEvent(Duration timeout) {

  /** Set on a tracked connection, on its event loop, before the event is fired. */
  static final AttributeKey<DrainEvent> DRAINING = AttributeKey.valueOf("trellis.draining");

  /**
   * The drain of this connection, or of the connection this HTTP/2 stream (an HBONE stream) belongs to; {@code null}
   * when the proxy is not draining it. Read on the connection's event loop.
   */
  public static DrainEvent of(Channel channel) {
    if (channel.hasAttr(DRAINING)) {
      return channel.attr(DRAINING).get();
    }
    Channel parent = channel.parent();
    return parent != null && parent.hasAttr(DRAINING) ? parent.attr(DRAINING).get() : null;
  }

  /** Whether the proxy is draining this connection (or the connection this HTTP/2 stream belongs to). */
  public static boolean draining(Channel channel) {
    return of(channel) != null;
  }
}
