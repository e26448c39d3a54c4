package dev.trellis.proxy.tunnel;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http2.DefaultHttp2PingFrame;
import io.netty.handler.codec.http2.Http2PingFrame;
import io.netty.handler.timeout.IdleState;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keep-alive for a pooled HBONE client connection; goes right after {@code Http2FrameCodec}, so it
 * sees every frame the peer sends. After {@code interval} with nothing read it sends a PING; if the
 * next {@code interval} brings nothing either (not even the PING's ACK), the peer is gone — a
 * restarted node, a silently dropped NAT or conntrack entry — and the connection closes, so new
 * streams open a fresh one instead of waiting on a dead socket.
 */
public final class HboneKeepAliveHandler extends IdleStateHandler {

  private static final Logger log = LoggerFactory.getLogger(HboneKeepAliveHandler.class);

  /** Default interval: quiet for this long means ask. */
  public static final long DEFAULT_INTERVAL_MILLIS = 10_000;

  private boolean awaitingAck;
  private long nonce;

  public HboneKeepAliveHandler(long intervalMillis) {
    super(intervalMillis, 0, 0, TimeUnit.MILLISECONDS);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
    awaitingAck = false; // anything from the peer proves it is there
    if (msg instanceof Http2PingFrame ping && ping.ack() && ping.content() == nonce) {
      return; // our own PING's answer: nothing for the handlers after us
    }
    super.channelRead(ctx, msg);
  }

  @Override
  protected void channelIdle(ChannelHandlerContext ctx, IdleStateEvent evt) {
    if (evt.state() != IdleState.READER_IDLE) {
      return;
    }
    if (awaitingAck) {
      log.info("[{}] HBONE peer {} did not answer a keep-alive PING: closing the connection", ctx.channel().id(),
          ctx.channel().remoteAddress());
      ctx.close();
      return;
    }
    awaitingAck = true;
    nonce++;
    ctx.writeAndFlush(new DefaultHttp2PingFrame(nonce));
  }
}
