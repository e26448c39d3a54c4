package dev.trellis.proxy.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class TransportTest {

  @Test
  void nioUnlessEpollIsAskedFor() {
    assertThat(Transport.choose(null)).isEqualTo(Transport.NIO);
    assertThat(Transport.choose(" NIO ")).isEqualTo(Transport.NIO);
    if (System.getProperty("os.name").startsWith("Linux")) {
      assertThat(Epoll.isAvailable()).as("native epoll loads: %s", Epoll.unavailabilityCause()).isTrue();
      assertThat(Transport.choose("epoll")).isEqualTo(Transport.EPOLL);
    }
    assertThatThrownBy(() -> Transport.choose("uring")).hasMessage("trellis.transport: 'uring' (expected: nio or epoll)");
  }

  /** Relayed connections, accepted or dialed, read up to 256 KiB at a time, at most 4 reads (1 MiB) per request. */
  @Test
  void relayedConnectionsReadInLargerPiecesWithTheSameBatchBound() {
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    try {
      for (Object option : new Object[] {
          Transport.relayConnection(group.next(), 1000).config().options().get(ChannelOption.RCVBUF_ALLOCATOR),
          Transport.relayListener(new ServerBootstrap(), group).config().childOptions()
              .get(ChannelOption.RCVBUF_ALLOCATOR)}) {
        assertThat(option).isInstanceOf(AdaptiveRecvByteBufAllocator.class);
        assertThat(((AdaptiveRecvByteBufAllocator) option).maxMessagesPerRead()).isEqualTo(Transport.READS_PER_BATCH);
      }
      assertThat(Transport.MAX_READ * Transport.READS_PER_BATCH).as("one read batch, as before").isEqualTo(1 << 20);
    } finally {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
  }

  @Test
  void transparentListenersNameTheFlagTheyNeed() {
    assertThat(Transport.current()).isEqualTo(Transport.NIO);
    assertThatThrownBy(() -> Transport.transparent(new ServerBootstrap()))
        .hasMessageContaining("run the node proxy with -Dtrellis.transport=epoll");
  }

  /**
   * Relayed connections, accepted and dialed, have no Nagle delay although neither bootstrap asks for it again: Netty
   * turns {@code TCP_NODELAY} on for every socket it creates, on either transport (read back with getsockopt).
   */
  @ParameterizedTest
  @EnumSource(Transport.class)
  void relayedConnectionsHaveNoNagleDelay(Transport transport) throws Exception {
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, transport == Transport.EPOLL
        ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
    try {
      CompletableFuture<Boolean> accepted = new CompletableFuture<>();
      ServerBootstrap b = transport == Transport.current() ? Transport.relayListener(new ServerBootstrap(), group)
          : transport.listen(new ServerBootstrap(), group).childOption(ChannelOption.AUTO_READ, false);
      Channel listener = b.childHandler(new ChannelInitializer<SocketChannel>() {
        @Override
        protected void initChannel(SocketChannel ch) {
          accepted.complete(ch.config().isTcpNoDelay());
        }
      }).bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
      if (transport == Transport.current()) {
        Channel dialed = Transport.relayConnection(group.next(), 2000).connect(listener.localAddress()).sync().channel();
        assertThat(((SocketChannel) dialed).config().isTcpNoDelay()).as("dialed").isTrue();
        assertThat(accepted.get(5, TimeUnit.SECONDS)).as("accepted").isTrue();
        dialed.close().sync();
      } else {
        try (Socket s = new Socket()) {
          s.connect(listener.localAddress(), 2000);
          assertThat(accepted.get(5, TimeUnit.SECONDS)).as("accepted").isTrue();
        }
      }
      listener.close().sync();
    } finally {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }
  }

  /**
   * An upgrade's listener switch: a second listener built as the proxy builds them binds the address and port of a
   * running one (today's failure was "Address already in use"), both take connections while both listen, and once
   * the first closes every new connection reaches the second. Sequential connections: a connection still in the
   * closing listener's accept queue is the kernel's business (net.ipv4.tcp_migrate_req), pinned by the IT.
   */
  @ParameterizedTest
  @EnumSource(Transport.class)
  void aSecondListenerSharesTheRunningOnesPortAndTakesEveryNewConnectionOnceTheFirstCloses(Transport transport)
      throws Exception {
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(4, transport == Transport.EPOLL
        ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
    try {
      Channel first = transport.listen(new ServerBootstrap(), group).childHandler(answering('1'))
          .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
      InetSocketAddress address = (InetSocketAddress) first.localAddress();
      Channel second = transport.listen(new ServerBootstrap(), group).childHandler(answering('2'))
          .bind(address).sync().channel();
      Set<Character> reached = new HashSet<>();
      for (int i = 0; i < 200; i++) {
        reached.add(answerOf(address));
      }
      assertThat(reached).as("while both listen, the kernel spreads connections over both").containsExactlyInAnyOrder(
          '1', '2');
      first.close().sync();
      int failures = 0;
      int toFirst = 0;
      for (int i = 0; i < 500; i++) {
        try {
          if (answerOf(address) != '2') {
            toFirst++;
          }
        } catch (IOException e) {
          failures++;
        }
      }
      assertThat(failures).as("new connections refused or reset after the first listener closed").isZero();
      assertThat(toFirst).as("new connections that reached the closed listener").isZero();
      second.close().sync();
    } finally {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }
  }

  private static ChannelInitializer<SocketChannel> answering(char which) {
    return new ChannelInitializer<>() {
      @Override
      protected void initChannel(SocketChannel ch) {
        ch.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {(byte) which})).addListener(ChannelFutureListener.CLOSE);
      }
    };
  }

  private static char answerOf(InetSocketAddress address) throws IOException {
    try (Socket s = new Socket()) {
      s.connect(address, 2000);
      s.setSoTimeout(2000);
      InputStream in = s.getInputStream();
      int b = in.read();
      if (b < 0) {
        throw new IOException("closed without an answer");
      }
      return (char) b;
    }
  }
}
