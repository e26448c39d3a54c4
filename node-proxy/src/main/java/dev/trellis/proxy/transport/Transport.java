package dev.trellis.proxy.transport;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;

/**
 * The socket transport every listener and connection of the proxy uses, in one place: event loops and
 * channel classes must come from the same transport. Java NIO today: the benchmarks were measured with
 * it. Netty's native epoll transport gave no measurable gain there; it first lost the end of half-closed
 * TCP streams, because the relays asked a half-closed socket to read and epoll answers that with an
 * {@code epoll_ctl} error that closed the connection ({@link dev.trellis.proxy.tunnel.Relays#readIfOpen}
 * fixed it; the whole test suite then passed on epoll). The redirection work, which needs epoll's
 * socket options, can switch here.
 */
public final class Transport {

  private Transport() {}

  /** Event loops; threads named {@code <name>-<n>-<m>}. */
  public static EventLoopGroup newGroup(int threads, String name) {
    return new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory(name), NioIoHandler.newFactory());
  }

  public static Class<? extends SocketChannel> socketChannel() {
    return NioSocketChannel.class;
  }

  public static Class<? extends ServerSocketChannel> serverChannel() {
    return NioServerSocketChannel.class;
  }
}
