package dev.trellis.proxy.transport;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The socket transport every listener and connection of the proxy uses: Linux epoll (native, fewer
 * system calls and allocations than NIO) where it loads, else Java NIO. One choice per process, made on
 * first use: {@code -Dtrellis.transport=nio|epoll} forces it (an unavailable {@code epoll} fails with
 * the reason). Event loops and channel classes must come from the same transport, so every
 * bootstrap asks here.
 */
public enum Transport {
  EPOLL,
  NIO;

  private static final Logger log = LoggerFactory.getLogger(Transport.class);
  private static volatile Transport current;

  /** The process's transport (decided once). */
  public static Transport current() {
    Transport t = current;
    if (t == null) {
      synchronized (Transport.class) {
        if (current == null) {
          current = choose(System.getProperty("trellis.transport"));
          log.debug("socket transport: {}", current);
        }
        t = current;
      }
    }
    return t;
  }

  static Transport choose(String forced) {
    if (forced == null || forced.isBlank()) {
      return Epoll.isAvailable() ? EPOLL : NIO;
    }
    return switch (forced.strip().toLowerCase(Locale.ROOT)) {
      case "nio" -> NIO;
      case "epoll" -> {
        if (!Epoll.isAvailable()) {
          throw new IllegalStateException("trellis.transport=epoll, but epoll is unavailable here: "
              + Epoll.unavailabilityCause() + " (use trellis.transport=nio)");
        }
        yield EPOLL;
      }
      default -> throw new IllegalArgumentException("trellis.transport: '" + forced + "' (expected: epoll or nio)");
    };
  }

  public IoHandlerFactory ioHandlerFactory() {
    return this == EPOLL ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
  }

  /** Event loops of this transport; threads named {@code <name>-<n>-<m>}. */
  public EventLoopGroup newGroup(int threads, String name) {
    return new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory(name), ioHandlerFactory());
  }

  public Class<? extends SocketChannel> socketChannel() {
    return this == EPOLL ? EpollSocketChannel.class : NioSocketChannel.class;
  }

  public Class<? extends ServerSocketChannel> serverChannel() {
    return this == EPOLL ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
  }
}
