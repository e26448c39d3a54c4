package dev.trellis.proxy.testing;

import dev.trellis.proxy.transport.Transport;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A workload that records every request exactly as it arrives — method, request target and every header line, in
 * order, duplicates kept — and answers 200 "ok". It speaks HTTP/1.1 and HTTP/2 with prior knowledge on one port
 * (the destination speaks the port's declared protocol), so tests see what a real workload would.
 */
public final class RecordingBackend implements AutoCloseable {

  /** One request as the workload saw it. {@code headers} excludes HTTP/2 pseudo-headers and Netty's x-http2-*. */
  public record Seen(String protocol, String method, String target, List<Map.Entry<String, String>> headers) {
    public List<String> all(String name) {
      return headers.stream().filter(e -> e.getKey().equalsIgnoreCase(name)).map(Map.Entry::getValue).toList();
    }

    public List<String> names() {
      return headers.stream().map(e -> e.getKey().toLowerCase(Locale.ROOT)).toList();
    }
  }

  public final Queue<Seen> seen = new ConcurrentLinkedQueue<>();
  /** Adds to every answer's headers (a hostile backend's header section); nothing by default. */
  public volatile Consumer<HttpHeaders> answerHeaders = h -> {};
  private final EventLoopGroup group = Transport.newGroup(1, "backend");
  private final Channel server;

  public RecordingBackend(String address) {
    server = new ServerBootstrap().group(group).channel(Transport.serverChannel())
        .childHandler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            ch.pipeline().addLast("sniff", new Sniff());
          }
        })
        .bind(new InetSocketAddress(address, 0)).syncUninterruptibly().channel();
  }

  public InetSocketAddress address() {
    return (InetSocketAddress) server.localAddress();
  }

  /** HTTP/2's preface or HTTP/1.1, then the matching server pipeline. */
  private final class Sniff extends ByteToMessageDecoder {
    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
      ByteBuf preface = Http2CodecUtil.connectionPrefaceBuf();
      try {
        int n = Math.min(in.readableBytes(), preface.readableBytes());
        boolean h2 = ByteBufUtil.equals(in, in.readerIndex(), preface, 0, n);
        if (h2 && n < preface.readableBytes()) {
          return;
        }
        if (h2) {
          ctx.pipeline().addAfter(ctx.name(), "h2", Http2FrameCodecBuilder.forServer()
              .encoderIgnoreMaxHeaderListSize(true).build());
          ctx.pipeline().addAfter("h2", "streams", new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
            @Override
            protected void initChannel(Http2StreamChannel s) {
              s.pipeline().addLast(new Http2StreamFrameToHttpObjectCodec(true), new HttpObjectAggregator(1 << 20),
                  new Record("2"));
            }
          }));
        } else {
          ctx.pipeline().addAfter(ctx.name(), "http", new HttpServerCodec());
          ctx.pipeline().addAfter("http", "aggregate", new HttpObjectAggregator(1 << 20));
          ctx.pipeline().addAfter("aggregate", "record", new Record("1.1"));
        }
        ctx.pipeline().remove(this);
      } finally {
        preface.release();
      }
    }
  }

  private final class Record extends SimpleChannelInboundHandler<FullHttpRequest> {
    private final String protocol;

    Record(String protocol) {
      this.protocol = protocol;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
      List<Map.Entry<String, String>> headers = new ArrayList<>();
      for (Map.Entry<String, String> h : req.headers()) {
        if (!h.getKey().toLowerCase(Locale.ROOT).startsWith("x-http2-")) {
          headers.add(Map.entry(h.getKey(), h.getValue()));
        }
      }
      seen.add(new Seen(protocol, req.method().name(), req.uri(), List.copyOf(headers)));
      FullHttpResponse res = new DefaultFullHttpResponse(req.protocolVersion(), HttpResponseStatus.OK,
          ctx.alloc().buffer().writeBytes("ok".getBytes(StandardCharsets.UTF_8)));
      res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, 2);
      answerHeaders.accept(res.headers());
      boolean keepAlive = HttpUtil.isKeepAlive(req);
      var f = ctx.writeAndFlush(res);
      if (!keepAlive && protocol.equals("1.1")) {
        f.addListener(ChannelFutureListener.CLOSE);
      }
    }
  }

  @Override
  public void close() {
    server.close().syncUninterruptibly();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }
}
