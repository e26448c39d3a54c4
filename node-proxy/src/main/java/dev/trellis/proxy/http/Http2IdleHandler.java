package dev.trellis.proxy.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.Http2FrameCodec;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The idle timeout of a downstream HTTP/2 connection (Envoy's {@code idle_timeout}): goes right after
 * {@code Http2FrameCodec}, sees every frame, and closes the connection (GOAWAY first, which the codec
 * sends on close) once it has had no open stream and no frame for {@link HttpLimits#idleTimeout}.
 */
final class Http2IdleHandler extends ChannelInboundHandlerAdapter {

  private final long idleNanos;
  private final LongSupplier ticker;
  private long lastActivity;
  private ScheduledFuture<?> tick;

  Http2IdleHandler(HttpLimits limits, LongSupplier ticker) {
    this.idleNanos = limits.idleTimeout().toNanos();
    this.ticker = ticker;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    lastActivity = ticker.getAsLong();
    long period = Math.max(TimeUnit.MILLISECONDS.toNanos(10), idleNanos / 4);
    tick = ctx.executor().scheduleWithFixedDelay(() -> check(ctx), period, period, TimeUnit.NANOSECONDS);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    lastActivity = ticker.getAsLong();
    ctx.fireChannelRead(msg);
  }

  private void check(ChannelHandlerContext ctx) {
    Http2FrameCodec codec = ctx.pipeline().get(Http2FrameCodec.class);
    if (codec == null || !ctx.channel().isActive()) {
      return;
    }
    if (codec.connection().numActiveStreams() > 0) {
      lastActivity = ticker.getAsLong();
      return;
    }
    if (ticker.getAsLong() - lastActivity >= idleNanos) {
      ctx.close();
    }
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
