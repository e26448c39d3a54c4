package dev.trellis.proxy.tunnel;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.util.ReferenceCountUtil;

/**
 * Goes last in a TCP socket's pipeline (auto-read off, half-closure allowed): bytes read from the
 * socket become DATA frames on the HBONE stream, flushed once per read batch; the socket is read again
 * only while the stream is writable (its flow-control window and buffer have room; when it drains,
 * {@link StreamToSocketHandler} asks for more). The socket's end of input becomes END_STREAM; an error
 * resets the stream.
 */
public final class SocketToStreamHandler extends ChannelInboundHandlerAdapter {

  private final Channel stream;
  private boolean ended;

  public SocketToStreamHandler(Channel stream) {
    this.stream = stream;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof ByteBuf buf) || ended) {
      ReferenceCountUtil.release(msg);
      return;
    }
    stream.write(new DefaultHttp2DataFrame(buf), stream.voidPromise());
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    stream.flush();
    if (stream.isWritable()) {
      Relays.readIfOpen(ctx.channel());
    }
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    if (ctx.channel().isWritable()) {
      stream.read(); // the socket drained: the stream may deliver more
    }
    ctx.fireChannelWritabilityChanged();
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt instanceof ChannelInputShutdownEvent) {
      endStream();
      return;
    }
    ctx.fireUserEventTriggered(evt);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    endStream();
  }

  private void endStream() {
    if (!ended && stream.isActive()) {
      ended = true;
      stream.writeAndFlush(new DefaultHttp2DataFrame(true));
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (stream.isActive()) {
      stream.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.CANCEL)).addListener(ChannelFutureListener.CLOSE);
    }
    ctx.close();
  }
}
