package dev.trellis.proxy.tunnel;

import io.netty.channel.Channel;
import io.netty.channel.socket.DuplexChannel;

/** What every relay handler does the same way. */
public final class Relays {

  private Relays() {}

  /**
   * Asks {@code ch} for more input, unless its input has ended: a half-closed socket has nothing more to
   * read, and asking anyway fails on some transports (Netty's epoll answers with {@code epoll_ctl}
   * ENOENT, which closed the connection and lost the data still on its way the other direction).
   */
  public static void readIfOpen(Channel ch) {
    if (ch instanceof DuplexChannel d && d.isInputShutdown()) {
      return;
    }
    ch.read();
  }
}
