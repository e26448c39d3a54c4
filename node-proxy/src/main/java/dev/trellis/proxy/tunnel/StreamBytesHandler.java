package dev.trellis.proxy.tunnel;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.util.ReferenceCountUtil;

/**
 * First in an HBONE stream's pipeline when a byte protocol (HTTP/1.1 or HTTP/2 to the workload) rides
 * on the tunnel: DATA frames in become {@link ByteBuf}s, {@link ByteBuf}s out become DATA frames, so
 * the handlers after it see an ordinary byte stream. The peer's END_STREAM or RST_STREAM ends the
 * tunneled connection and closes the stream channel.
 */
public final class StreamBytesHandler extends ChannelDuplexHandler {

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof Http2DataFrame frame) {
      boolean end = frame.isEndStream();
      if (frame.content().isReadable()) {
        ctx.fireChannelRead(frame.content().retain());
      }
      frame.release();
      if (end) {
        ctx.close();
      }
      return;
    }
    ReferenceCountUtil.release(msg);
    if (msg instanceof Http2ResetFrame) {
      ctx.close();
    }
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    if (msg instanceof ByteBuf buf) {
      ctx.write(new DefaultHttp2DataFrame(buf), promise);
      return;
    }
    ctx.write(msg, promise);
  }
}
