package dev.trellis.proxy.drain;

import io.netty.channel.Channel;
import io.netty.util.AttributeKey;

/**
 * Fired (as a user event, on the connection's own event loop) through the pipeline of every tracked downstream
 * connection when the proxy starts draining. The handler that knows the connection's protocol asks
 * {@link DrainDecision} and acts; a handler installed later (the protocol was not known yet) reads
 * {@link #draining(Channel)} when it is added.
 */
public final class DrainEvent {

  public static final DrainEvent INSTANCE = new DrainEvent();

  /** Set on a tracked connection, on its event loop, before the event is fired. */
  static final AttributeKey<Boolean> DRAINING = AttributeKey.valueOf("trellis.draining");

  private DrainEvent() {}

  /**
   * Whether the proxy is draining this connection, or the connection this HTTP/2 stream (an HBONE stream) belongs to;
   * read on the connection's event loop.
   */
  public static boolean draining(Channel channel) {
    return channel.hasAttr(DRAINING) || channel.parent() != null && channel.parent().hasAttr(DRAINING);
  }

  @Override
  public String toString() {
    return "DrainEvent";
  }
}
