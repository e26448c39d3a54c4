package dev.trellis.proxy.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http2.Http2ConnectionAdapter;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2Stream;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The idle timeout of a downstream HTTP/2 connection (Envoy's {@code idle_timeout}): goes right after
 * {@code Http2FrameCodec}, sees every frame, and closes the connection (GOAWAY first, which the codec
 * sends on close) once it has had no open stream and no frame for {@link HttpLimits#idleTimeout}.
 *
 * <p>Also the end of a connection whose client has closed its side ({@code FIN}; downstream sockets allow
 * half-closure so that a relayed TCP stream can carry one): no frame can come any more, so the connection closes
 * as soon as it has no open stream — at once if it has none, else once the last response is written. Left open,
 * it would hold a socket in CLOSE-WAIT until the idle timeout (an hour by default): h2load's bursts, which close
 * their connections after their requests, left hundreds in the chaos suite's node proxies.
 */
final class Http2IdleHandler extends ChannelInboundHandlerAdapter {

  private final long idleNanos;
  private final LongSupplier ticker;
  private long lastActivity;
  private ScheduledFuture<?> tick;
  private boolean inputShutdown;

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
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt instanceof ChannelInputShutdownEvent && !inputShutdown) {
      inputShutdown = true;
      Http2FrameCodec codec = ctx.pipeline().get(Http2FrameCodec.class);
      if (codec != null) {
        codec.connection().addListener(new Http2ConnectionAdapter() {
          @Override
          public void onStreamClosed(Http2Stream stream) {
            // After the codec's own bookkeeping and the last frame's write: close from a task of its own.
            ctx.executor().execute(() -> closeIfNoStream(ctx));
          }
        });
      }
      closeIfNoStream(ctx);
    }
    ctx.fireUserEventTriggered(evt);
  }

  private void closeIfNoStream(ChannelHandlerContext ctx) {
    Http2FrameCodec codec = ctx.pipeline().get(Http2FrameCodec.class);
    if (ctx.channel().isActive() && (codec == null || codec.connection().numActiveStreams() == 0)) {
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
