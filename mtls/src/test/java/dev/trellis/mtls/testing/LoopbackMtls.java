package dev.trellis.mtls.testing;

import dev.trellis.mtls.MtlsException;
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
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * A real mTLS echo server on 127.0.0.1 and a client for it, for handshake tests. The server builds
 * each connection's {@link SslHandler} through {@code serverHandlers} at accept time, so tests can
 * hand it a rotating context.
 */
public final class LoopbackMtls implements AutoCloseable {

  /** What one connection attempt produced, seen from both sides. */
  public record Outcome(String echoed, SpiffeId clientSawServer, SpiffeId serverSawClient, String protocol,
      String alpn, BigInteger serverSerial, Throwable clientError, Throwable serverError) {
    public boolean ok() {
      return clientError == null && echoed != null;
    }

    public MtlsException serverMtlsError() {
      return find(serverError);
    }

    public MtlsException clientMtlsError() {
      return find(clientError);
    }

    private static MtlsException find(Throwable t) {
      for (Throwable c = t; c != null; c = c.getCause()) {
        if (c instanceof MtlsException m) {
          return m;
        }
      }
      return null;
    }
  }

  private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
  private final Channel server;
  private final ConcurrentLinkedQueue<ServerSide> accepted = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<String> serverReads = new ConcurrentLinkedQueue<>();

  public LoopbackMtls(Function<SocketChannel, SslHandler> serverHandlers, ExpectedPeers serverExpects) {
    this(serverHandlers, serverExpects, ch -> {});
  }

  public LoopbackMtls(Function<SocketChannel, SslHandler> serverHandlers, ExpectedPeers serverExpects,
      Consumer<SocketChannel> afterSslHandlerAdded) {
    server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            ServerSide side = new ServerSide();
            accepted.add(side);
            ch.pipeline().addLast(serverHandlers.apply(ch), new PeerIdentityHandler(serverExpects), side);
            afterSslHandlerAdded.accept(ch);
          }
        })
        .bind(new InetSocketAddress("127.0.0.1", 0)).syncUninterruptibly().channel();
  }

  public int port() {
    return ((InetSocketAddress) server.localAddress()).getPort();
  }

  /** Strings the server read from clients, in order: empty when the server never saw application data. */
  public java.util.List<String> serverReads() {
    return java.util.List.copyOf(serverReads);
  }

  /** Connects, sends {@code message} once the server is verified, and waits for the echo or a failure. */
  public Outcome exchange(SslHandler clientSsl, ExpectedPeers clientExpects, String message) {
    ClientSide client = new ClientSide(message);
    Channel ch = new Bootstrap().group(group).channel(NioSocketChannel.class)
        .handler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel c) {
            c.pipeline().addLast(clientSsl, new PeerIdentityHandler(clientExpects), client);
          }
        })
        .connect(server.localAddress()).syncUninterruptibly().channel();
    client.channel = ch;
    String echoed = null;
    Throwable clientError = null;
    try {
      echoed = client.echo.get(10, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      clientError = e.getCause();
    } catch (Exception e) {
      clientError = e;
    }
    ServerSide s = lastAccepted();
    Throwable serverError = null;
    if (clientError != null && s != null) {
      // The server's verdict arrives with or right after the client's failure; wait for the channel to close.
      s.closed.orTimeout(10, TimeUnit.SECONDS).join();
      serverError = s.error;
    }
    SslHandler ssl = ch.pipeline().get(SslHandler.class);
    String protocol = ssl != null && ssl.engine().getSession() != null ? ssl.engine().getSession().getProtocol() : null;
    String alpn = ssl != null ? ssl.applicationProtocol() : null;
    return new Outcome(echoed, client.peer, s == null ? null : s.peer, protocol, alpn, client.serverSerial,
        clientError, serverError);
  }

  /** Sends one more message on an established connection and waits for its echo. */
  public static String exchangeAgain(Channel ch, String message) {
    ClientSide client = ch.pipeline().get(ClientSide.class);
    client.echo = new CompletableFuture<>();
    ch.writeAndFlush(Unpooled.copiedBuffer(message, StandardCharsets.UTF_8));
    return client.echo.orTimeout(10, TimeUnit.SECONDS).join();
  }

  /** Like {@link #exchange} but keeps the connection open and returns it. */
  public Channel connectAndKeep(SslHandler clientSsl, ExpectedPeers clientExpects, String message) {
    ClientSide client = new ClientSide(message);
    Channel ch = new Bootstrap().group(group).channel(NioSocketChannel.class)
        .handler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel c) {
            c.pipeline().addLast(clientSsl, new PeerIdentityHandler(clientExpects), client);
          }
        })
        .connect(server.localAddress()).syncUninterruptibly().channel();
    client.channel = ch;
    client.echo.orTimeout(10, TimeUnit.SECONDS).join();
    return ch;
  }

  /** The serial of the certificate the server presented on {@code ch}. */
  public static BigInteger serverSerial(Channel ch) {
    return ch.pipeline().get(ClientSide.class).serverSerial;
  }

  private ServerSide lastAccepted() {
    ServerSide last = null;
    for (ServerSide s : accepted) {
      last = s;
    }
    return last;
  }

  @Override
  public void close() {
    server.close().syncUninterruptibly();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }

  private final class ServerSide extends ChannelInboundHandlerAdapter {
    volatile SpiffeId peer;
    volatile Throwable error;
    final CompletableFuture<Void> closed = new CompletableFuture<>();

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
      if (evt instanceof PeerVerifiedEvent v) {
        peer = v.peer();
      } else if (evt instanceof SslHandshakeCompletionEvent e && !e.isSuccess() && error == null) {
        error = e.cause();
      }
      ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ByteBuf buf = (ByteBuf) msg;
      serverReads.add(buf.toString(StandardCharsets.UTF_8));
      ctx.writeAndFlush(buf);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      if (error == null) {
        error = cause;
      }
      ctx.close();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      closed.complete(null);
    }
  }

  private static final class ClientSide extends ChannelInboundHandlerAdapter {
    final String message;
    volatile CompletableFuture<String> echo = new CompletableFuture<>();
    volatile SpiffeId peer;
    volatile BigInteger serverSerial;
    volatile Channel channel;

    ClientSide(String message) {
      this.message = message;
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
      if (evt instanceof PeerVerifiedEvent v) {
        peer = v.peer();
        SslHandler ssl = ctx.pipeline().get(SslHandler.class);
        serverSerial = ((X509Certificate) ssl.engine().getSession().getPeerCertificates()[0]).getSerialNumber();
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
      echo.completeExceptionally(new java.nio.channels.ClosedChannelException());
    }
  }
}
