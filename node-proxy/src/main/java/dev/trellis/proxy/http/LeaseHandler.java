package dev.trellis.proxy.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Last in every upstream request channel's pipeline (an {@link Http1Connection}'s socket or stream, an
 * {@link Http2Connection}'s stream channel): hands what arrives to the current lease's listener. With none (an idle
 * HTTP/1.1 connection) nothing may arrive, so anything that does makes the connection unusable and it closes.
 */
final class LeaseHandler extends ChannelInboundHandlerAdapter {

  private static final Logger log = LoggerFactory.getLogger(LeaseHandler.class);

  UpstreamPool.UpstreamListener listener;
  /** Whether a final (non-1xx) response head went to the listener: an HTTP/2 stream carries one response. */
  private boolean headPassed;

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    UpstreamPool.UpstreamListener l = listener;
    if (l == null) {
      ReferenceCountUtil.release(msg);
      ctx.close();
      return;
    }
    if (msg instanceof HttpResponse r && r.status().code() >= 200) {
      headPassed = true;
    }
    l.onMessage(msg);
  }

  /**
   * An HTTP/2 stream (or its connection) broke the protocol, e.g. a response header list over the limit: the listener
   * sees what the HTTP/1.1 decoder hands over for a bad response, a head (or, after the head, a body piece) that
   * failed with {@code cause}, so the caller gets 502 ({@code UPE}) or its response ends, never a bare reset.
   */
  void protocolError(Http2Exception cause) {
    UpstreamPool.UpstreamListener l = listener;
    if (l == null) {
      return;
    }
    HttpObject failed = headPassed ? new DefaultLastHttpContent()
        : new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.BAD_GATEWAY);
    failed.setDecoderResult(DecoderResult.failure(cause));
    headPassed = true;
    l.onMessage(failed);
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    UpstreamPool.UpstreamListener l = listener;
    if (l != null) {
      l.onReadComplete();
    }
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    UpstreamPool.UpstreamListener l = listener;
    if (l != null && ctx.channel().isWritable()) {
      l.onWritable();
    }
    ctx.fireChannelWritabilityChanged();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    UpstreamPool.UpstreamListener l = listener;
    if (l != null) {
      l.onClosed();
    }
    ctx.fireChannelInactive();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug("upstream {}: {}", ctx.channel().remoteAddress(), cause.toString());
    if (cause instanceof Http2Exception e) {
      protocolError(e);
    }
    ctx.close();
  }
}
