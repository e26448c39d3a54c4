package dev.trellis.proxy.testing;

import dev.trellis.proxy.transport.Transport;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.proxy.Socks5ProxyHandler;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * An HTTP/2 (prior knowledge) client entering the proxy through its SOCKS5 entry, sending request headers exactly as
 * given — hostile {@code :path}s and methods included, which an ordinary client would refuse to send.
 */
public final class H2Caller implements AutoCloseable {

  /** A response; status -1 when the stream was reset instead. */
  public record Response(int status, Http2Headers headers, String body) {
    public String header(String name) {
      CharSequence v = headers == null ? null : headers.get(name);
      return v == null ? null : v.toString();
    }
  }

  private final EventLoopGroup group = Transport.newGroup(1, "h2-caller");
  private final Channel connection;
  /** The connection's codec (kept: a closed connection's pipeline no longer holds it). */
  private Http2FrameCodec codec;

  public H2Caller(InetSocketAddress entry, String source, String destination, int port) {
    connection = new Bootstrap().group(group).channel(Transport.socketChannel())
        .handler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            ch.pipeline().addLast(new Socks5ProxyHandler(entry), codec = Http2FrameCodecBuilder.forClient().build(),
                new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()));
          }
        })
        .connect(new InetSocketAddress(destination, port), new InetSocketAddress(source, 0))
        .syncUninterruptibly().channel();
  }

  /** A client connected straight to {@code address} (a listener that speaks HTTP/2 itself, no SOCKS5 entry). */
  public H2Caller(InetSocketAddress address) {
    connection = new Bootstrap().group(group).channel(Transport.socketChannel())
        .handler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            ch.pipeline().addLast(codec = Http2FrameCodecBuilder.forClient().build(),
                new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()));
          }
        })
        .connect(address).syncUninterruptibly().channel();
  }

  /** Sends one request without a body; {@code extra} are header name/value pairs, repeated names allowed. */
  public Response send(String method, String path, List<Map.Entry<String, String>> extra) throws Exception {
    return send(method, path, extra, null);
  }

  /**
   * Sends one request; a non-null {@code body} goes in two DATA frames after the headers (no content-length unless
   * {@code extra} has one), the last ending the stream.
   */
  public Response send(String method, String path, List<Map.Entry<String, String>> extra, String body)
      throws Exception {
    return open(method, path, extra, body, true).get(20, TimeUnit.SECONDS);
  }

  /**
   * Starts a request: its headers, then {@code body} as DATA that does not end the stream (null: the headers end it).
   * The response (or -1 for a reset) completes the future.
   */
  public CompletableFuture<Response> start(String method, String path, List<Map.Entry<String, String>> extra,
      String body) {
    return open(method, path, extra, body, false);
  }

  private CompletableFuture<Response> open(String method, String path, List<Map.Entry<String, String>> extra,
      String body, boolean bodyEndsStream) {
    Http2Headers h = new DefaultHttp2Headers(false).method(method).path(path).scheme("http")
        .authority("web.d.svc.cluster.local");
    extra.forEach(e -> h.add(e.getKey(), e.getValue()));
    CompletableFuture<Response> done = new CompletableFuture<>();
    Http2StreamChannel stream = new Http2StreamChannelBootstrap(connection).handler(new ChannelInboundHandlerAdapter() {
      private Http2Headers head;
      private final StringBuilder body = new StringBuilder();

      @Override
      public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
          if (msg instanceof Http2HeadersFrame f) {
            if (head == null) {
              head = f.headers();
            }
            if (f.isEndStream()) {
              done.complete(new Response(Integer.parseInt(head.status().toString()), head, body.toString()));
            }
          } else if (msg instanceof Http2DataFrame d) {
            body.append(d.content().toString(StandardCharsets.UTF_8));
            if (d.isEndStream()) {
              done.complete(new Response(Integer.parseInt(head.status().toString()), head, body.toString()));
            }
          } else if (msg instanceof Http2ResetFrame) {
            done.complete(new Response(-1, null, ""));
          }
        } finally {
          ReferenceCountUtil.release(msg);
        }
      }

      @Override
      public void channelInactive(ChannelHandlerContext ctx) {
        done.complete(new Response(-1, null, ""));
      }
    }).open().syncUninterruptibly().getNow();
    if (body == null) {
      stream.writeAndFlush(new DefaultHttp2HeadersFrame(h, true));
    } else {
      byte[] b = body.getBytes(StandardCharsets.UTF_8);
      int half = b.length / 2;
      stream.write(new DefaultHttp2HeadersFrame(h, false));
      stream.write(new DefaultHttp2DataFrame(Unpooled.wrappedBuffer(b, 0, half), false));
      stream.writeAndFlush(new DefaultHttp2DataFrame(Unpooled.wrappedBuffer(b, half, b.length - half), bodyEndsStream));
    }
    return done;
  }

  /** Whether the proxy sent GOAWAY on this connection. */
  public boolean goAwayReceived() throws Exception {
    return connection.eventLoop().submit(() -> connection.pipeline()
        .get(io.netty.handler.codec.http2.Http2FrameCodec.class).connection().goAwayReceived()).get(5, TimeUnit.SECONDS);
  }

  /** The last stream id named by the last GOAWAY the proxy sent on this connection (-1 before any). */
  public int lastStreamIdInGoAway() throws Exception {
    return connection.eventLoop().submit(() -> codec.connection().local().lastStreamKnownByPeer())
        .get(5, TimeUnit.SECONDS);
  }

  /** The id of the last stream this client opened on the connection. */
  public int lastStreamOpened() throws Exception {
    return connection.eventLoop().submit(() -> codec.connection().local().lastStreamCreated()).get(5, TimeUnit.SECONDS);
  }

  /** Whether the connection is closed. */
  public boolean closed() {
    return !connection.isActive();
  }

  public Response send(String method, String path) throws Exception {
    return send(method, path, List.of());
  }

  @Override
  public void close() {
    connection.close().syncUninterruptibly();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }
}
