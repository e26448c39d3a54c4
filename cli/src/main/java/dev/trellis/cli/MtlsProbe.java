package dev.trellis.cli;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.verify.ExpectedPeers;
import dev.trellis.mtls.verify.PeerIdentityHandler;
import dev.trellis.mtls.verify.PeerVerifiedEvent;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * One mTLS round trip on 127.0.0.1 between two workload identities: an echo server and a client that
 * sends a message once it has verified the server. Used by {@code trellis demo} to show the identity
 * layer working over a real socket.
 */
final class MtlsProbe {

  /** What the round trip showed; {@code error} is set when it failed. */
  record Result(String echoed, SpiffeId clientSawServer, SpiffeId serverSawClient, String protocol, String cipher,
      Throwable error) {}

  private MtlsProbe() {}

  static Result exchange(SslContext serverContext, ExpectedPeers serverExpects, SslContext clientContext,
      ExpectedPeers clientExpects, String message) {
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    CompletableFuture<SpiffeId> serverSaw = new CompletableFuture<>();
    CompletableFuture<String> echo = new CompletableFuture<>();
    CompletableFuture<SpiffeId> clientSaw = new CompletableFuture<>();
    try {
      Channel server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
          .childHandler(new ChannelInitializer<SocketChannel>() {
            @Override
            protected void initChannel(SocketChannel ch) {
              ch.pipeline().addLast(serverContext.newHandler(ch.alloc()), new PeerIdentityHandler(serverExpects),
                  new ChannelInboundHandlerAdapter() {
                    @Override
                    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                      if (evt instanceof PeerVerifiedEvent v) {
                        serverSaw.complete(v.peer());
                      }
                      ctx.fireUserEventTriggered(evt);
                    }

                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                      ctx.writeAndFlush(msg);
                    }

                    @Override
                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                      ctx.close();
                    }
                  });
            }
          })
          .bind(new InetSocketAddress("127.0.0.1", 0)).syncUninterruptibly().channel();
      Channel client = new Bootstrap().group(group).channel(NioSocketChannel.class)
          .handler(new ChannelInitializer<SocketChannel>() {
            @Override
            protected void initChannel(SocketChannel ch) {
              ch.pipeline().addLast(clientContext.newHandler(ch.alloc()), new PeerIdentityHandler(clientExpects),
                  new ChannelInboundHandlerAdapter() {
                    @Override
                    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                      if (evt instanceof PeerVerifiedEvent v) {
                        clientSaw.complete(v.peer());
                        ctx.writeAndFlush(Unpooled.copiedBuffer(message, StandardCharsets.UTF_8));
                      } else if (evt instanceof SslHandshakeCompletionEvent e && !e.isSuccess()) {
                        echo.completeExceptionally(e.cause());
                      }
                      ctx.fireUserEventTriggered(evt);
                    }

                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                      ByteBuf buf = (ByteBuf) msg;
                      try {
                        echo.complete(buf.toString(StandardCharsets.UTF_8));
                      } finally {
                        buf.release();
                      }
                    }

                    @Override
                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                      echo.completeExceptionally(cause);
                      ctx.close();
                    }

                    @Override
                    public void channelInactive(ChannelHandlerContext ctx) {
                      echo.completeExceptionally(new IllegalStateException("connection closed before the echo arrived"));
                    }
                  });
            }
          })
          .connect(server.localAddress()).syncUninterruptibly().channel();
      try {
        String echoed = echo.get(10, TimeUnit.SECONDS);
        SslHandler ssl = client.pipeline().get(SslHandler.class);
        return new Result(echoed, clientSaw.getNow(null), serverSaw.get(10, TimeUnit.SECONDS),
            ssl.engine().getSession().getProtocol(), ssl.engine().getSession().getCipherSuite(), null);
      } catch (Exception e) {
        return new Result(null, clientSaw.getNow(null), serverSaw.getNow(null), null, null,
            e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e);
      } finally {
        client.close().syncUninterruptibly();
        server.close().syncUninterruptibly();
      }
    } finally {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
  }
}
