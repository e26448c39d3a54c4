package dev.trellis.proxy.entry;

import dev.trellis.proxy.refusal.Refusal;
import dev.trellis.proxy.refusal.Refusals;
import dev.trellis.proxy.transport.Transport;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import java.net.InetSocketAddress;
import java.time.Duration;

/**
 * The local-mode entry listener (stand-in for capture on 15001): SOCKS5 or HTTP CONNECT, told apart
 * by the first byte ({@link EntryProtocolHandler}), to be completed within 15 s ({@link EntryDeadlineHandler}).
 */
public final class EntryServer implements AutoCloseable {

  private final Channel channel;

  private EntryServer(Channel channel) {
    this.channel = channel;
  }

  /**
   * @param refusals counts (and logs, rate-limited) what the entry refuses: requests that do not parse, what it
   *     does not support
   * @param listener the listener label of those refusals (15001: outbound, 15006: inbound)
   */
  public static EntryServer start(EventLoopGroup group, InetSocketAddress address, EntryDispatcher dispatcher,
      Refusals refusals, Refusal.Listener listener) {
    return start(new ServerBootstrap(), group, address, dispatcher, refusals, listener);
  }

  /** @param bootstrap the listener's bootstrap (e.g. one whose connections a drain tracks) */
  public static EntryServer start(ServerBootstrap bootstrap, EventLoopGroup group, InetSocketAddress address,
      EntryDispatcher dispatcher, Refusals refusals, Refusal.Listener listener) {
    return start(bootstrap, group, address, dispatcher, refusals, listener, EntryDeadlineHandler.DEFAULT);
  }

  /** @param handshakeDeadline how long a client may take to name its destination (tests shorten it) */
  static EntryServer start(ServerBootstrap bootstrap, EventLoopGroup group, InetSocketAddress address,
      EntryDispatcher dispatcher, Refusals refusals, Refusal.Listener listener, Duration handshakeDeadline) {
    Channel ch = Transport.relayListener(bootstrap, group)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel c) {
            c.pipeline().addLast(EntryDeadlineHandler.NAME, new EntryDeadlineHandler(handshakeDeadline, refusals,
                listener));
            c.pipeline().addLast("entry", new EntryProtocolHandler(dispatcher, refusals, listener));
            c.read();
          }
        })
        .bind(address).syncUninterruptibly().channel();
    return new EntryServer(ch);
  }

  public InetSocketAddress address() {
    return (InetSocketAddress) channel.localAddress();
  }

  @Override
  public void close() {
    channel.close().syncUninterruptibly();
  }
}
