package dev.trellis.proxy.outbound;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.concurrent.ScheduledFuture;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * Goes before {@code HttpServerCodec} on a downstream HTTP/1.1 connection and watches raw bytes: while
 * the connection waits for a request, the first byte starts the header timer (the request's headers
 * must be complete within {@link HttpLimits#headerTimeout}, else 408 and close), and silence for
 * {@link HttpLimits#idleTimeout} closes it. {@link Http1DownstreamHandler} says when a request's
 * headers arrived ({@link #requestStarted}) and when it waits again ({@link #awaitingRequest}).
 */
final class DownstreamTimersHandler extends ChannelDuplexHandler {

  private final HttpLimits limits;
  private ChannelHandlerContext ctx;
  private boolean awaiting = true;
  private ScheduledFuture<?> headerTimer;
  private ScheduledFuture<?> idleTimer;

  DownstreamTimersHandler(HttpLimits limits) {
    this.limits = limits;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
    armIdle();
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (awaiting && msg instanceof ByteBuf b && b.isReadable()) {
      cancel(idleTimer);
      idleTimer = null;
      if (headerTimer == null) {
        headerTimer = ctx.executor().schedule(this::headersTooSlow, limits.headerTimeout().toMillis(), TimeUnit.MILLISECONDS);
      }
    }
    ctx.fireChannelRead(msg);
  }

  void requestStarted() {
    awaiting = false;
    cancel(headerTimer);
    headerTimer = null;
    cancel(idleTimer);
    idleTimer = null;
  }

  void awaitingRequest() {
    awaiting = true;
    armIdle();
  }

  private void armIdle() {
    cancel(idleTimer);
    idleTimer = ctx.executor().schedule(() -> {
      if (awaiting && headerTimer == null) {
        ctx.close();
      }
    }, limits.idleTimeout().toMillis(), TimeUnit.MILLISECONDS);
  }

  private void headersTooSlow() {
    headerTimer = null;
    if (!awaiting || !ctx.channel().isActive()) {
      return;
    }
    awaiting = false;
    FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.REQUEST_TIMEOUT,
        Unpooled.copiedBuffer("request headers not received within " + limits.headerTimeout().toMillis() + " ms\n",
            StandardCharsets.UTF_8));
    r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, r.content().readableBytes());
    r.headers().set(HttpHeaderNames.CONNECTION, "close");
    r.headers().set(HeaderHygiene.FLAGS, LocalReply.Flag.DPE.name());
    // Written from the handler after the codec, so the codec encodes it.
    ctx.pipeline().context(Http1DownstreamHandler.class).writeAndFlush(r).addListener(ChannelFutureListener.CLOSE);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    cancel(headerTimer);
    cancel(idleTimer);
    ctx.fireChannelInactive();
  }

  private static void cancel(ScheduledFuture<?> f) {
    if (f != null) {
      f.cancel(false);
    }
  }
}
