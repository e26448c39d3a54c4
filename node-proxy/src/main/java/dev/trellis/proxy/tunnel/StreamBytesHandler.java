package dev.trellis.proxy.tunnel;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.util.ReferenceCountUtil;
import java.util.concurrent.TimeUnit;

/**
 * First in an HBONE stream's pipeline when a byte protocol (HTTP/1.1 or HTTP/2 to the workload) rides
 * on the tunnel: DATA frames in become {@link ByteBuf}s, {@link ByteBuf}s out become DATA frames, so
 * the handlers after it see an ordinary byte stream. The peer's END_STREAM or RST_STREAM ends the
 * tunneled connection and closes the stream channel.
 *
 * <p>Closing from this side ends the stream with END_STREAM once everything written before has gone
 * out: a bare close would reset the stream and drop DATA still waiting for HTTP/2 flow control. An
 * empty write sends no frame but completes only after the writes before it. While half-closed it
 * discards what the peer still sends until the peer's END_STREAM, for at most {@link #HALF_CLOSE_MILLIS}.
 */
public final class StreamBytesHandler extends ChannelDuplexHandler {

  /** How long a half-closed stream waits for the peer's END_STREAM before it is reset. */
  static final long HALF_CLOSE_MILLIS = 10_000;

  private ChannelFuture lastWrite;
  private boolean ended;
  private boolean peerEnded;

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof Http2DataFrame frame) {
      boolean end = frame.isEndStream();
      if (frame.content().isReadable() && !ended) {
        ctx.fireChannelRead(frame.content().retain());
      }
      frame.release();
      if (end) {
        peerEnded = true;
        ctx.close();
      }
      return;
    }
    ReferenceCountUtil.release(msg);
    if (msg instanceof Http2ResetFrame) {
      peerEnded = true;
      ended = true;
      ctx.close();
    }
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    if (msg instanceof ByteBuf buf) {
      if (!buf.isReadable()) {
        buf.release(); // no frame for nothing, but complete in order with the writes before it
        ChannelFuture last = lastWrite;
        if (last == null || last.isDone()) {
          promise.trySuccess();
        } else {
          last.addListener(f -> promise.trySuccess());
        }
        return;
      }
      // A void promise cannot be listened to; an empty write after this one needs a future to wait for.
      lastWrite = ctx.write(new DefaultHttp2DataFrame(buf), promise.isVoid() ? ctx.newPromise() : promise);
      return;
    }
    ctx.write(msg, promise);
  }

  @Override
  public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
    if (ended || !ctx.channel().isActive()) {
      ctx.close(promise);
      return;
    }
    ended = true;
    ctx.writeAndFlush(new DefaultHttp2DataFrame(true)).addListener(f -> {
      if (peerEnded || !f.isSuccess()) {
        ctx.close(promise);
        return;
      }
      // Half-closed: discard what the peer still sends until its END_STREAM, but not for ever.
      promise.trySuccess();
      ctx.channel().config().setAutoRead(true);
      ctx.read();
      ctx.executor().schedule(() -> {
        if (ctx.channel().isActive()) {
          ctx.channel().unsafe().close(ctx.channel().voidPromise());
        }
      }, HALF_CLOSE_MILLIS, TimeUnit.MILLISECONDS);
    });
  }
}
