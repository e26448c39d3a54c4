package dev.trellis.proxy.outbound;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.socksx.v5.Socks5InitialRequestDecoder;
import io.netty.handler.codec.socksx.v5.Socks5ServerEncoder;
import java.net.InetSocketAddress;

/** The SOCKS5 entry listener (local mode's stand-in for capture on 15001). */
public final class SocksEntryServer implements AutoCloseable {

  private final Channel channel;

  private SocksEntryServer(Channel channel) {
    this.channel = channel;
  }

  public static SocksEntryServer start(EventLoopGroup group, InetSocketAddress address, OutboundServices services) {
    Channel ch = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
        .childOption(ChannelOption.AUTO_READ, false)
        .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
        .childOption(ChannelOption.TCP_NODELAY, true)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel c) {
            c.pipeline().addLast(Socks5ServerEncoder.DEFAULT);
            c.pipeline().addLast(new Socks5InitialRequestDecoder());
            c.pipeline().addLast(new SocksEntryHandler(services));
            c.read();
          }
        })
        .bind(address).syncUninterruptibly().channel();
    return new SocksEntryServer(ch);
  }

  public InetSocketAddress address() {
    return (InetSocketAddress) channel.localAddress();
  }

  @Override
  public void close() {
    channel.close().syncUninterruptibly();
  }
}
