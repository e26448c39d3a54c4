package dev.trellis.proxy.entry;

import dev.trellis.proxy.transport.Transport;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import java.net.InetSocketAddress;

/**
 * The local-mode entry listener (stand-in for capture on 15001): SOCKS5 or HTTP CONNECT, told apart
 * by the first byte ({@link EntryProtocolHandler}).
 */
public final class EntryServer implements AutoCloseable {

  private final Channel channel;

  private EntryServer(Channel channel) {
    this.channel = channel;
  }

  public static EntryServer start(EventLoopGroup group, InetSocketAddress address, EntryDispatcher dispatcher) {
    Channel ch = Transport.relayListener(new ServerBootstrap(), group)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel c) {
            c.pipeline().addLast("entry", new EntryProtocolHandler(dispatcher));
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
