package dev.trellis.proxy.transport;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioChannelOption;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.util.Locale;

/**
 * The socket transport every listener and connection of the proxy uses, in one place: event loops and
 * channel classes must come from the same transport. One choice per process, {@code
 * -Dtrellis.transport=nio|epoll}: Java NIO by default (what the benchmarks measured; epoll gave no
 * measurable gain there), Netty's native epoll where transparent capture needs {@code IP_TRANSPARENT}.
 * With epoll the relays must never ask a half-closed socket to read (see
 * {@link dev.trellis.proxy.tunnel.Relays#readIfOpen}); the whole test suite passes on both.
 */
public enum Transport {
  NIO,
  EPOLL;

  private static final Transport CURRENT = choose(System.getProperty("trellis.transport"));

  static Transport choose(String forced) {
    if (forced == null || forced.isBlank()) {
      return NIO;
    }
    return switch (forced.strip().toLowerCase(Locale.ROOT)) {
      case "nio" -> NIO;
      case "epoll" -> {
        if (!Epoll.isAvailable()) {
          throw new IllegalStateException("trellis.transport=epoll, but epoll does not load here: "
              + Epoll.unavailabilityCause() + " (use trellis.transport=nio)");
        }
        yield EPOLL;
      }
      default -> throw new IllegalArgumentException("trellis.transport: '" + forced + "' (expected: nio or epoll)");
    };
  }

  /** The process's transport. */
  public static Transport current() {
    return CURRENT;
  }

  private IoHandlerFactory ioHandlerFactory() {
    return this == EPOLL ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
  }

  /** Event loops; threads named {@code <name>-<n>-<m>}. */
  public static EventLoopGroup newGroup(int threads, String name) {
    return new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory(name), CURRENT.ioHandlerFactory());
  }

  public static Class<? extends SocketChannel> socketChannel() {
    return CURRENT == EPOLL ? EpollSocketChannel.class : NioSocketChannel.class;
  }

  public static Class<? extends ServerSocketChannel> serverChannel() {
    return CURRENT == EPOLL ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
  }

  /**
   * A connection for a byte relay, on {@code loop} (the downstream's): auto-read off (the relay reads
   * when the other side can take more), half-closure allowed (one direction may end first), no Nagle
   * delay, the connect timeout and {@link #bulkReads}. The caller adds its handlers once connected.
   *
   * <p>No Nagle delay without asking: Netty turns {@code TCP_NODELAY} on for every socket channel it creates, on both
   * transports ({@code DefaultSocketChannelConfig}, {@code EpollSocketChannelConfig}); asking again would cost a
   * {@code setsockopt} per connection. {@code TransportTest} pins that it is on.
   */
  public static Bootstrap relayConnection(EventLoop loop, int connectTimeoutMillis) {
    return new Bootstrap().group(loop).channel(socketChannel())
        .option(ChannelOption.AUTO_READ, false)
        .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectTimeoutMillis)
        .option(ChannelOption.RCVBUF_ALLOCATOR, bulkReads())
        .handler(new ChannelInboundHandlerAdapter());
  }

  /** The largest single read of a relayed or HBONE connection ({@link #bulkReads}). */
  public static final int MAX_READ = 256 * 1024;
  /** How many reads one read request makes at most ({@link #bulkReads}): 1 MiB a batch, as 16 reads of 64 KiB were. */
  public static final int READS_PER_BATCH = 4;

  /**
   * How a relayed or HBONE connection sizes its reads: as Netty's default, from 2 KiB up to what the last reads filled,
   * but up to {@link #MAX_READ} instead of 64 KiB, at most {@link #READS_PER_BATCH} per read request. A bulk transfer
   * then moves in fewer, larger pieces (reads, DATA frames, writes, each a trip through the pipelines); a connection
   * that carries little never grows its buffer, and what one read batch may bring is bounded as before (1 MiB).
   */
  public static RecvByteBufAllocator bulkReads() {
    return new AdaptiveRecvByteBufAllocator(64, 2048, MAX_READ).maxMessagesPerRead(READS_PER_BATCH);
  }

  /**
   * {@link #relayConnection} from {@code source}, an address of a pod rather than of this host: the socket is
   * transparent ({@code IP_TRANSPARENT}, epoll only) and bound to {@code source} with an ephemeral port. Replies
   * reach it only where the node's TPROXY chain hands packets for transparent sockets to local delivery.
   */
  public static Bootstrap relayConnectionFrom(EventLoop loop, int connectTimeoutMillis, InetAddress source) {
    if (CURRENT != EPOLL) {
      throw new IllegalStateException("dialing from a pod's address needs the epoll transport (IP_TRANSPARENT): run "
          + "the node proxy with -Dtrellis.transport=epoll");
    }
    return relayConnection(loop, connectTimeoutMillis).option(EpollChannelOption.IP_TRANSPARENT, true)
        .localAddress(new InetSocketAddress(source, 0));
  }

  /**
   * Every listener of the proxy starts here: {@code group}, the transport's server channel, and {@code SO_REUSEPORT},
   * so that a second node proxy for the same node (an upgrade: {@code trellis restart}, a DaemonSet surge pod) binds
   * the same address and port beside the running one and takes new connections as soon as the old one closes its
   * listeners. The kernel spreads new connections over the sockets that share a port while both listen. A connection
   * still in the closing listener's accept queue is reset unless {@code net.ipv4.tcp_migrate_req=1} (Linux 5.14 or
   * later) lets the kernel move it to the other listener: see docs/node-proxy-operations.md, "Upgrade".
   */
  public static ServerBootstrap listener(ServerBootstrap b, EventLoopGroup group) {
    return CURRENT.listen(b, group);
  }

  /** {@link #listener} with this transport ({@code group} must be of it). */
  ServerBootstrap listen(ServerBootstrap b, EventLoopGroup group) {
    return this == EPOLL
        ? b.group(group).channel(EpollServerSocketChannel.class).option(EpollChannelOption.SO_REUSEPORT, true)
        : b.group(group).channel(NioServerSocketChannel.class)
            .option(NioChannelOption.of(StandardSocketOptions.SO_REUSEPORT), true);
  }

  /**
   * A listener whose accepted connections are relayed: the same socket policy as {@link #relayConnection} (no Nagle
   * delay without asking, as there).
   */
  public static ServerBootstrap relayListener(ServerBootstrap b, EventLoopGroup group) {
    return listener(b, group)
        .childOption(ChannelOption.AUTO_READ, false)
        .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
        .childOption(ChannelOption.RCVBUF_ALLOCATOR, bulkReads());
  }

  /**
   * Makes a listener transparent ({@code IP_TRANSPARENT}): it accepts connections TPROXY hands it for
   * any destination address, and each accepted socket's local address is where the client was going.
   */
  public static ServerBootstrap transparent(ServerBootstrap b) {
    if (CURRENT != EPOLL) {
      throw new IllegalStateException("transparent capture needs the epoll transport: run the node proxy with "
          + "-Dtrellis.transport=epoll (Java NIO cannot set IP_TRANSPARENT)");
    }
    return b.option(EpollChannelOption.IP_TRANSPARENT, true);
  }
}
