package dev.trellis.proxy.tunnel;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
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
 * DATA frame's bytes are written to the socket and flushed once per read batch; the stream is read
 * again only while the socket is writable, so a slow socket holds back the HTTP/2 flow-control window
 * instead of filling memory (when the stream drains, {@link SocketToStreamHandler} asks for more).
 * END_STREAM half-closes the socket's output; a RST_STREAM or the stream's end closes the socket.
 */
public final class StreamToSocketHandler extends ChannelInboundHandlerAdapter {

  private final Channel socket;
  private boolean ended;

  public StreamToSocketHandler(Channel socket) {
    this.socket = socket;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof Http2DataFrame frame) {
      if (frame.content().isReadable()) {
        socket.write(frame.content().retain(), socket.voidPromise());
      }
      ended |= frame.isEndStream();
      frame.release();
      return;
    }
    if (msg instanceof ByteBuf buf) {
      socket.write(buf, socket.voidPromise()); // bytes a byte codec held as it left the stream's pipeline
      return;
    }
    ReferenceCountUtil.release(msg);
    if (msg instanceof Http2ResetFrame) {
      socket.close();
      ctx.close();
    }
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    if (ended) {
      socket.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(f -> {
        if (socket instanceof DuplexChannel d && socket.isActive()) {
          d.shutdownOutput();
        } else {
          socket.close();
        }
      });
      return;
    }
    socket.flush();
    if (socket.isWritable()) {
      Relays.readIfOpen(ctx.channel());
    }
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    if (ctx.channel().isWritable()) {
      Relays.readIfOpen(socket); // the stream drained: the socket may send more
    }
    ctx.fireChannelWritabilityChanged();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    if (socket.isActive()) {
      socket.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    socket.close();
    ctx.close();
  }
}
