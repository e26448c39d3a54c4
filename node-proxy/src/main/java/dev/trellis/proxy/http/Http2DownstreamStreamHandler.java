package dev.trellis.proxy.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.util.ReferenceCountUtil;

/**
 * Last in a downstream HTTP/2 stream's pipeline (an {@code Http2StreamChannel}, auto-read off, after
 * {@code Http2StreamFrameToHttpObjectCodec}): one stream, one {@link HttpExchange}. Ending early
 * (a response before the whole request, or an abort) resets the stream.
 */
final class Http2DownstreamStreamHandler extends ChannelInboundHandlerAdapter implements HttpExchange.Downstream {

  private final HttpContext cx;
  private ChannelHandlerContext ctx;
  private HttpExchange exchange;
  private boolean requestEnded;
  private RequestBodyTimer bodyTimer;

  Http2DownstreamStreamHandler(HttpContext cx) {
    this.cx = cx;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
    this.bodyTimer = new RequestBodyTimer(ctx.executor(), System::nanoTime, cx.limits(), this::bodyStalled);
  }

  /** The client stopped sending the body the exchange waits for: this stream gets 408, or a reset once answering. */
  private void bodyStalled() {
    if (exchange != null) {
      exchange.onRequestBodyTimeout();
    }
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    ctx.read();
    ctx.fireChannelActive();
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof LastHttpContent) {
      requestEnded = true;
      bodyTimer.stop();
    } else if (msg instanceof HttpContent) {
      bodyTimer.received();
    }
    if (msg instanceof HttpRequest req && exchange == null) {
      exchange = new HttpExchange(this, cx);
      exchange.start(req);
    } else if (msg instanceof HttpContent c && exchange != null) {
      exchange.onRequestContent(c);
    } else {
      ReferenceCountUtil.release(msg);
    }
  }

  @Override
  public Channel channel() {
    return ctx.channel();
  }

  @Override
  public void read() {
    if (!requestEnded) {
      bodyTimer.reading();
    }
    ctx.read();
  }

  /**
   * A complete response to a request still arriving: the rest of the request is refused with RST_STREAM NO_ERROR
   * (RFC 9113 8.1), sent only once the response's last DATA has left — a reset sent earlier would discard DATA
   * still held by flow control.
   */
  @Override
  public void done(boolean keepAlive, ChannelFuture lastWrite) {
    bodyTimer.stop();
    if (requestEnded) {
      return;
    }
    if (lastWrite == null) {
      resetNoError();
    } else {
      lastWrite.addListener(f -> resetNoError());
    }
  }

  private void resetNoError() {
    if (ctx.channel().isActive()) {
      ctx.writeAndFlush(new DefaultHttp2ResetFrame(
          Http2Error.NO_ERROR)).addListener(ChannelFutureListener.CLOSE);
    }
  }

  @Override
  public void abort() {
    bodyTimer.stop();
    ctx.close();
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    if (exchange != null && ctx.channel().isWritable()) {
      exchange.onDownstreamWritable();
    }
    ctx.fireChannelWritabilityChanged();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    bodyTimer.stop();
    if (exchange != null) {
      exchange.onDownstreamClosed();
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    ctx.close();
  }
}
