package dev.trellis.proxy.entry;

import dev.trellis.proxy.transport.Transport;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import java.net.InetSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A capture listener: connections arrive without any entry protocol, and where each was going comes
 * from an {@link OriginalDestination} (a fixed service in standalone mode; with transparent capture the eBPF
 * lookup, or the accepted socket's local address under TPROXY). The connection is handed to the dispatcher at once.
 */
public final class CaptureServer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(CaptureServer.class);

  /** Where an accepted connection was originally going, and how it was brought here. */
  public record Original(InetSocketAddress destination, Arrival arrival) {}

  /** Where an accepted connection was originally going; null if it was not redirected (it is closed). */
  @FunctionalInterface
  public interface OriginalDestination {
    Original of(Channel accepted);
  }

  private final Channel channel;

  private CaptureServer(Channel channel) {
    this.channel = channel;
  }

  public static CaptureServer start(EventLoopGroup group, InetSocketAddress address, OriginalDestination destination,
      EntryDispatcher dispatcher) {
    return start(new ServerBootstrap(), group, address, destination, dispatcher);
  }

  /**
   * A transparent capture listener (TPROXY, {@code IP_TRANSPARENT}; needs the epoll transport): each
   * connection's original destination is its local address.
   */
  public static CaptureServer startTransparent(EventLoopGroup group, InetSocketAddress address,
      EntryDispatcher dispatcher) {
    return startTransparent(group, address,
        accepted -> new Original((InetSocketAddress) accepted.localAddress(), Arrival.TPROXY), dispatcher);
  }

  /** A transparent capture listener whose connections' original destinations come from {@code destination}. */
  public static CaptureServer startTransparent(EventLoopGroup group, InetSocketAddress address,
      OriginalDestination destination, EntryDispatcher dispatcher) {
    return start(Transport.transparent(new ServerBootstrap()), group, address, destination, dispatcher);
  }

  /**
   * @param bootstrap the listener's bootstrap: a transparent one ({@code Transport.transparent}) for TPROXY, and one
   *     whose connections a drain tracks
   */
  public static CaptureServer start(ServerBootstrap bootstrap, EventLoopGroup group, InetSocketAddress address,
      OriginalDestination destination, EntryDispatcher dispatcher) {
    Channel ch = Transport.relayListener(bootstrap, group)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel c) {
            Original original = destination.of(c);
            if (original == null) {
              log.debug("closing {} -> {}: not a redirected connection", c.remoteAddress(), c.localAddress());
              c.close();
              return;
            }
            String source = c.remoteAddress().getAddress().getHostAddress();
            InetSocketAddress to = original.destination();
            dispatcher.dispatch(c, source, to.getAddress(), null, to.getPort(), original.arrival(),
                new EntryDispatcher.EntryReply() {
                  @Override
                  public ChannelFuture accept() {
                    return c.newSucceededFuture();
                  }

                  @Override
                  public void reject(EntryDispatcher.Refusal why) {
                    c.close();
                  }
                });
          }
        })
        .bind(address).syncUninterruptibly().channel();
    return new CaptureServer(ch);
  }

  public InetSocketAddress address() {
    return (InetSocketAddress) channel.localAddress();
  }

  @Override
  public void close() {
    channel.close().syncUninterruptibly();
  }
}
