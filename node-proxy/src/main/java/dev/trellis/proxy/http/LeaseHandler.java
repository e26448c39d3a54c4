package dev.trellis.proxy.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
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

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    UpstreamPool.UpstreamListener l = listener;
    if (l == null) {
      ReferenceCountUtil.release(msg);
      ctx.close();
      return;
    }
    l.onMessage(msg);
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
    ctx.close();
  }
}
