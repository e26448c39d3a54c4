package dev.trellis.proxy.http;

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
 * Goes before {@code HttpServerCodec} on a downstream HTTP/1.1 connection and watches raw bytes:
 * while the connection waits for a request, its first byte starts the header clock (the headers must
 * be complete within {@link HttpLimits#headerTimeout}, else 408 and close), and silence for
 * {@link HttpLimits#idleTimeout} closes the connection. {@link Http1DownstreamHandler} says when a
 * request's headers arrived ({@link #requestStarted}) and when it waits again ({@link #awaitingRequest}).
 *
 * <p>One periodic check per connection (a quarter of the shorter limit) instead of timers scheduled
 * and cancelled per request: a limit is enforced within 1.25 times its value.
 */
final class DownstreamTimersHandler extends ChannelDuplexHandler {

  private final HttpLimits limits;
  private final long headerNanos;
  private final long idleNanos;
  private ChannelHandlerContext ctx;
  private boolean awaiting = true;
  private long headerDeadline;
  private long lastActivity;
  private ScheduledFuture<?> tick;

  DownstreamTimersHandler(HttpLimits limits) {
    this.limits = limits;
    this.headerNanos = limits.headerTimeout().toNanos();
    this.idleNanos = limits.idleTimeout().toNanos();
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
    lastActivity = System.nanoTime();
    long period = Math.max(TimeUnit.MILLISECONDS.toNanos(10), Math.min(headerNanos, idleNanos) / 4);
    tick = ctx.executor().scheduleWithFixedDelay(this::check, period, period, TimeUnit.NANOSECONDS);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (awaiting && msg instanceof ByteBuf b && b.isReadable()) {
      lastActivity = System.nanoTime();
      if (headerDeadline == 0) {
        headerDeadline = lastActivity + headerNanos;
      }
    }
    ctx.fireChannelRead(msg);
  }

  void requestStarted() {
    awaiting = false;
    headerDeadline = 0;
  }

  void awaitingRequest() {
    awaiting = true;
    lastActivity = System.nanoTime();
  }

  private void check() {
    if (!awaiting || !ctx.channel().isActive()) {
      return;
    }
    long now = System.nanoTime();
    if (headerDeadline != 0) {
      if (now - headerDeadline >= 0) {
        headersTooSlow();
      }
      return;
    }
    if (now - lastActivity >= idleNanos) {
      ctx.close();
    }
  }

  private void headersTooSlow() {
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
    tick.cancel(false);
    ctx.fireChannelInactive();
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    tick.cancel(false);
  }
}
