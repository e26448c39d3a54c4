package dev.trellis.proxy.drain;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.Http2ConnectionHandler;

/**
 * Goes right after the {@code Http2FrameCodec} of a connection the proxy serves HTTP/2 on (downstream h2, HBONE): when
 * the proxy drains ({@link DrainEvent}) it closes the connection the HTTP/2 way, which Netty's codec does gracefully:
 * GOAWAY (NO_ERROR, last stream id = the last stream the peer opened), the open streams finish, then the connection
 * closes; the drain's timeout cuts it if they do not. A connection whose HTTP/2 pipeline is installed after the drain
 * began gets GOAWAY after its first read, so the requests that came with its preface are served.
 */
public final class GoAwayOnDrainHandler extends ChannelInboundHandlerAdapter {

  private boolean told;

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
    if (evt instanceof DrainEvent) {
      goAway(ctx);
    }
    super.userEventTriggered(ctx, evt);
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    if (!told && DrainEvent.draining(ctx.channel())) {
      goAway(ctx);
    }
    ctx.fireChannelReadComplete();
  }

  private void goAway(ChannelHandlerContext ctx) {
    if (told || DrainDecision.decide(DrainDecision.Kind.HTTP2, false) != DrainDecision.Action.GO_AWAY) {
      return;
    }
    told = true;
    Http2ConnectionHandler codec = ctx.pipeline().get(Http2ConnectionHandler.class);
    if (codec != null) {
      codec.gracefulShutdownTimeoutMillis(-1); // no timer of its own: the drain's timeout cuts what is left
    }
    ctx.channel().close();
  }
}
