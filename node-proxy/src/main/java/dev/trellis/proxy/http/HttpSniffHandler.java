package dev.trellis.proxy.http;

import dev.trellis.proxy.drain.GoAwayOnDrainHandler;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * First in a downstream HTTP connection's pipeline, where an outbound connection to an HTTP service (or an inspected
 * inbound one) starts carrying the client's bytes. {@link #install} builds the HTTP/1.1 pipeline at once — this
 * handler ({@code timers}), {@code http} ({@link HttpServerCodec}) and {@code exchange} ({@link Http1DownstreamHandler})
 * — so the common case builds its pipeline once per connection. The first bytes tell HTTP/2 with prior knowledge (the
 * connection preface) from HTTP/1.1: HTTP/1.1 flows on into the codec; the preface replaces the HTTP/1.1 handlers with
 * HTTP/2's and this handler leaves, handing over the bytes read so far. The request goes upstream in the protocol its
 * cluster declares ({@code ClusterSpec.upstream}), translated if it differs ({@link ProtocolTranslation}).
 *
 * <p>Deadlines, checked by the event loop's {@link DownstreamSweep} (no timer of the connection's own):
 * <ul>
 *   <li>until the protocol is known, {@link HttpLimits#firstByteTimeout} to say it (its first byte; an HTTP/2 preface
 *       whole), else the connection closes: the proxy cannot act before it has read. Raw TCP services never come here
 *       (a server-speaks-first protocol may wait for the server);
 *   <li>HTTP/1.1, while the connection waits for a request: its first byte starts the header clock (the headers must be
 *       complete within {@link HttpLimits#headerTimeout}, else 408 and close), and silence for
 *       {@link HttpLimits#idleTimeout} closes the connection. {@link Http1DownstreamHandler} says when a request's
 *       headers arrived ({@link #requestStarted}) and when it waits again ({@link #awaitingRequest});
 *   <li>HTTP/2 has its own ({@link Http2IdleHandler}).
 * </ul>
 * Each is enforced within 1.25 times its value (the sweep runs every quarter of the shortest).
 */
public final class HttpSniffHandler extends ChannelDuplexHandler implements DownstreamSweep.Watched {

  private static final Logger log = LoggerFactory.getLogger(HttpSniffHandler.class);

  static final int MAX_H2_STREAMS = 1000;

  /** The HTTP/2 client connection preface (RFC 9113, section 3.4). */
  private static final byte[] PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

  private enum State {
    SNIFFING,
    HTTP1
  }

  private final HttpContext cx;
  private final Consumer<UpstreamPool.Protocol> onProtocol;
  private final DownstreamSweep sweep;
  private final long periodNanos;
  private final long headerNanos;
  private final long idleNanos;
  private ChannelHandlerContext ctx;
  private State state = State.SNIFFING;
  /** Bytes of an HTTP/2 preface read so far, while it is not whole; else null. */
  private ByteBuf held;
  private int slot = -1;
  private long firstByteDeadline;
  private boolean awaiting = true;
  private long headerDeadline;
  private long lastActivity;

  private HttpSniffHandler(HttpContext cx, Consumer<UpstreamPool.Protocol> onProtocol) {
    this.cx = cx;
    this.onProtocol = onProtocol;
    this.sweep = cx.pool().downstreams();
    this.periodNanos = DownstreamSweep.periodFor(cx.limits());
    this.headerNanos = cx.limits().headerTimeout().toNanos();
    this.idleNanos = cx.limits().idleTimeout().toNanos();
  }

  /**
   * Builds {@code ch}'s downstream HTTP pipeline (HTTP/1.1's; HTTP/2's replaces it if the client sends the preface)
   * and asks for the first bytes. Auto-read must be off, and {@code cx}'s pool on {@code ch}'s event loop.
   *
   * @param onProtocol told the protocol once known (inbound inspection adopts its workload connection then); may be null
   */
  public static void install(Channel ch, HttpContext cx, Consumer<UpstreamPool.Protocol> onProtocol) {
    if (cx.pool().loop() != ch.eventLoop()) { // the sweep runs on the pool's loop and touches the handler's state
      throw new IllegalArgumentException("the HTTP context's pool is on " + cx.pool().loop() + ", the connection on "
          + ch.eventLoop() + " (expected: the same event loop)");
    }
    HttpSniffHandler front = new HttpSniffHandler(cx, onProtocol);
    ChannelPipeline p = ch.pipeline();
    p.addLast("timers", front);
    p.addLast("http", new HttpServerCodec(new HttpDecoderConfig()
        .setMaxHeaderSize(UpstreamPool.MAX_HEADER_BYTES).setMaxInitialLineLength(16 * 1024)
        .setMaxChunkSize(UpstreamPool.MAX_BODY_PIECE)));
    p.addLast("exchange", new Http1DownstreamHandler(cx.withProtocol(UpstreamPool.Protocol.HTTP1), front));
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
    ctx.channel().config().setAutoRead(false);
    firstByteDeadline = sweep.now() + cx.limits().firstByteTimeout().toNanos();
    sweep.add(this, periodNanos);
    ctx.read(); // asynchronous: the handlers install() adds after this one are in place when bytes arrive
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    sweep.remove(this);
    releaseHeld();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    sweep.remove(this);
    releaseHeld();
    ctx.fireChannelInactive();
  }

  /**
   * The client closed its side before a request could even begin (no byte, or part of the HTTP/2 preface): nothing
   * more can come, so the connection closes at once instead of waiting out the idle timeout.
   */
  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (state != State.SNIFFING) {
      ctx.fireUserEventTriggered(evt);
    } else if (evt instanceof ChannelInputShutdownEvent) {
      ctx.close();
    }
    // Other events (a drain) are not the HTTP/1.1 handlers' business before the protocol is known.
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (state == State.SNIFFING && msg instanceof ByteBuf b) {
      sniff(ctx, b);
      return;
    }
    if (awaiting && msg instanceof ByteBuf b && b.isReadable()) {
      lastActivity = sweep.now();
      if (headerDeadline == 0) {
        headerDeadline = lastActivity + headerNanos;
      }
    }
    ctx.fireChannelRead(msg);
  }

  private void sniff(ChannelHandlerContext ctx, ByteBuf b) {
    ByteBuf in = held == null ? b : ByteToMessageDecoder.MERGE_CUMULATOR.cumulate(ctx.alloc(), held, b);
    held = null;
    int n = Math.min(in.readableBytes(), PREFACE.length);
    boolean prefix = prefaceStart(in, n);
    if (prefix && n < PREFACE.length) {
      if (n == 0) {
        in.release();
      } else {
        held = in; // too early to tell
      }
      ctx.read();
      return;
    }
    boolean h2 = prefix;
    if (onProtocol != null) {
      onProtocol.accept(h2 ? UpstreamPool.Protocol.HTTP2 : UpstreamPool.Protocol.HTTP1);
    }
    if (h2) {
      http2(ctx, in);
      return;
    }
    state = State.HTTP1;
    lastActivity = sweep.now();
    headerDeadline = lastActivity + headerNanos;
    ctx.fireChannelRead(in);
  }

  /** Whether the first {@code n} readable bytes of {@code in} are the preface's first {@code n}. */
  private static boolean prefaceStart(ByteBuf in, int n) {
    int at = in.readerIndex();
    for (int i = 0; i < n; i++) {
      if (in.getByte(at + i) != PREFACE[i]) {
        return false;
      }
    }
    return true;
  }

  /** Replaces the HTTP/1.1 handlers with HTTP/2's, hands them {@code in} (the preface and what followed) and leaves. */
  private void http2(ChannelHandlerContext ctx, ByteBuf in) {
    ChannelPipeline p = ctx.pipeline();
    p.remove("exchange");
    p.remove("http");
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
    ctx.fireChannelRead(in);
    p.remove(this);
  }

  void requestStarted() {
    awaiting = false;
    headerDeadline = 0;
  }

  void awaitingRequest() {
    awaiting = true;
    lastActivity = sweep.now();
  }

  @Override
  public void check(long now) {
    if (!ctx.channel().isActive()) {
      return;
    }
    if (state == State.SNIFFING) {
      if (now - firstByteDeadline >= 0) {
        log.debug("[{}] no request within {} ms: closing", ctx.channel().id(), cx.limits().firstByteTimeout().toMillis());
        sweep.remove(this);
        ctx.close();
      }
      return;
    }
    if (!awaiting) {
      return;
    }
    if (headerDeadline != 0) {
      if (now - headerDeadline >= 0) {
        headersTooSlow();
      }
      return;
    }
    if (now - lastActivity >= idleNanos) {
      sweep.remove(this);
      ctx.close();
    }
  }

  private void headersTooSlow() {
    awaiting = false;
    sweep.remove(this);
    FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.REQUEST_TIMEOUT,
        Unpooled.copiedBuffer("request headers not received within " + cx.limits().headerTimeout().toMillis()
            + " ms\n", StandardCharsets.UTF_8));
    r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, r.content().readableBytes());
    r.headers().set(HttpHeaderNames.CONNECTION, "close");
    r.headers().set(HeaderHygiene.FLAGS, LocalReply.Flag.DPE.name());
    // Written from the handler after the codec, so the codec encodes it.
    ctx.pipeline().context(Http1DownstreamHandler.class).writeAndFlush(r).addListener(ChannelFutureListener.CLOSE);
  }

  private void releaseHeld() {
    if (held != null) {
      held.release();
      held = null;
    }
  }

  @Override
  public int slot() {
    return slot;
  }

  @Override
  public void slot(int slot) {
    this.slot = slot;
  }
}
