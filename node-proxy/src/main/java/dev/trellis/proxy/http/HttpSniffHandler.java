package dev.trellis.proxy.http;

import dev.trellis.proxy.drain.GoAwayOnDrainHandler;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Goes where an outbound connection to an HTTP service starts carrying the client's bytes: reads
 * just enough to tell HTTP/2 with prior knowledge (the connection preface) from HTTP/1.1, installs
 * that protocol's server pipeline, hands over the bytes read so far and removes itself. The request
 * goes upstream in the protocol its cluster declares ({@code ClusterSpec.upstream}), translated if it differs
 * ({@link ProtocolTranslation}).
 *
 * <p>Until the protocol is known the connection has {@link HttpLimits#firstByteTimeout} to say it (its first byte; an
 * HTTP/2 preface whole), else it closes: the proxy cannot act before it has read. Raw TCP services never come here
 * (a server-speaks-first protocol may wait for the server), and once the protocol's pipeline is in place its own
 * header and idle timeouts apply.
 */
public final class HttpSniffHandler extends ByteToMessageDecoder {

  private static final Logger log = LoggerFactory.getLogger(HttpSniffHandler.class);

  static final int MAX_H2_STREAMS = 1000;

  private final HttpContext cx;
  private final Consumer<UpstreamPool.Protocol> onProtocol;
  private ScheduledFuture<?> firstByte;

  /** @param onProtocol told the protocol once known (inbound inspection adopts its workload connection then); may be null */
  public HttpSniffHandler(HttpContext cx, Consumer<UpstreamPool.Protocol> onProtocol) {
    this.cx = cx;
    this.onProtocol = onProtocol;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    ctx.channel().config().setAutoRead(false);
    long millis = cx.limits().firstByteTimeout().toMillis();
    firstByte = ctx.executor().schedule(() -> {
      log.debug("[{}] no request within {} ms: closing", ctx.channel().id(), millis);
      ctx.close();
    }, millis, TimeUnit.MILLISECONDS);
    ctx.read();
  }

  @Override
  protected void handlerRemoved0(ChannelHandlerContext ctx) {
    firstByte.cancel(false);
  }

  /**
   * The client closed its side before a request could even begin (no byte, or part of the HTTP/2 preface): nothing
   * more can come, so the connection closes at once instead of waiting out the idle timeout.
   */
  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
    if (evt instanceof ChannelInputShutdownEvent) {
      ctx.close();
      return;
    }
    super.userEventTriggered(ctx, evt);
  }

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    ByteBuf preface = Http2CodecUtil.connectionPrefaceBuf();
    try {
      int n = Math.min(in.readableBytes(), preface.readableBytes());
      boolean prefix = in.slice(in.readerIndex(), n).equals(preface.slice(0, n));
      if (prefix && n < preface.readableBytes()) {
        ctx.read(); // too early to tell
        return;
      }
      ChannelPipeline p = ctx.pipeline();
      if (onProtocol != null) {
        onProtocol.accept(prefix ? UpstreamPool.Protocol.HTTP2 : UpstreamPool.Protocol.HTTP1);
      }
      if (prefix) {
        HttpContext h2 = cx.withProtocol(UpstreamPool.Protocol.HTTP2);
        p.addAfter(ctx.name(), "h2", Http2FrameCodecBuilder.forServer()
            .initialSettings(Http2Settings.defaultSettings().maxConcurrentStreams(MAX_H2_STREAMS)
                .maxHeaderListSize(UpstreamPool.MAX_HEADER_BYTES))
            .build());
        p.addAfter("h2", "drain", GoAwayOnDrainHandler.downstream());
        p.addAfter("drain", "idle", new Http2IdleHandler(cx.limits(), System::nanoTime));
        p.addAfter("idle", "streams", new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
          @Override
          protected void initChannel(Http2StreamChannel s) {
            s.config().setAutoRead(false);
            s.pipeline().addLast("http", new Http2StreamFrameToHttpObjectCodec(true));
            s.pipeline().addLast("exchange", new Http2DownstreamStreamHandler(h2));
          }
        }));
        ctx.channel().config().setAutoRead(true);
      } else {
        p.addAfter(ctx.name(), "timers", new DownstreamTimersHandler(cx.limits()));
        p.addAfter("timers", "http", new HttpServerCodec(new HttpDecoderConfig()
            .setMaxHeaderSize(UpstreamPool.MAX_HEADER_BYTES).setMaxInitialLineLength(16 * 1024)
            .setMaxChunkSize(UpstreamPool.MAX_BODY_PIECE)));
        p.addAfter("http", "exchange", new Http1DownstreamHandler(cx.withProtocol(UpstreamPool.Protocol.HTTP1)));
      }
      p.remove(this);
    } finally {
      preface.release();
    }
  }
}
