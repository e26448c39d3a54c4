package dev.trellis.proxy.tunnel;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.util.ReferenceCountUtil;

/**
 * Goes last in an HBONE stream's pipeline (an {@code Http2StreamChannel} with auto-read off): each
 * DATA frame's bytes are written to the socket, and the stream is read again only once that write
 * succeeded, so a slow socket holds back the HTTP/2 flow-control window instead of filling memory.
 * END_STREAM half-closes the socket's output; a RST_STREAM or the stream's end closes the socket.
 */
public final class StreamToSocketHandler extends ChannelInboundHandlerAdapter {

  private final Channel socket;

  public StreamToSocketHandler(Channel socket) {
    this.socket = socket;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof Http2DataFrame frame) {
      ByteBuf content = frame.content().retain();
      boolean end = frame.isEndStream();
      frame.release();
      socket.writeAndFlush(content).addListener((ChannelFutureListener) f -> {
        if (!f.isSuccess()) {
          ctx.close();
        } else if (end) {
          if (socket instanceof DuplexChannel d) {
            d.shutdownOutput();
          } else {
            socket.close();
          }
        } else {
          ctx.read();
        }
      });
      return;
    }
    if (msg instanceof Http2ResetFrame) {
      ReferenceCountUtil.release(msg);
      socket.close();
      ctx.close();
      return;
    }
    ReferenceCountUtil.release(msg);
    ctx.read();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    if (socket.isActive()) {
      socket.writeAndFlush(io.netty.buffer.Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    socket.close();
    ctx.close();
  }
}
