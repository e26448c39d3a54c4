package dev.trellis.proxy.drain;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.Http2ConnectionHandler;
import io.netty.handler.codec.http2.Http2Error;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Goes right after the {@code Http2FrameCodec} of a connection the proxy serves HTTP/2 on (downstream h2, HBONE): when
 * the proxy drains ({@link DrainEvent}) it closes the connection the HTTP/2 way, in two steps as Envoy and gRPC
 * servers do: first a shutdown notice, GOAWAY (NO_ERROR) naming the largest stream id, so that a stream the peer opens
 * while the notice travels is still served rather than refused (h2load counted such streams as errored); then, after
 * {@link #NOTICE}, Netty's graceful close: the open streams finish, then the connection closes; the drain's timeout
 * cuts it if they do not. A connection whose HTTP/2 pipeline is installed after the drain
 * began gets GOAWAY after its first read, so the requests that came with its preface are served.
 */
public final class GoAwayOnDrainHandler extends ChannelInboundHandlerAdapter {

  /** Between the shutdown notice and the close: time for the notice to reach the peer and its last streams to come. */
  static final Duration NOTICE = Duration.ofSeconds(1);

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
    if (codec == null) {
      ctx.channel().close();
      return;
    }
    codec.gracefulShutdownTimeoutMillis(-1); // no timer of its own: the drain's timeout cuts what is left
    ChannelHandlerContext codecContext = ctx.pipeline().context(codec);
    codec.goAway(codecContext, Integer.MAX_VALUE, Http2Error.NO_ERROR.code(), Unpooled.EMPTY_BUFFER,
        codecContext.newPromise());
    codecContext.flush();
    // Netty's close sends no second GOAWAY once one went out: it waits for the open streams, then closes.
    ctx.executor().schedule(() -> ctx.channel().close(), NOTICE.toMillis(), TimeUnit.MILLISECONDS);
  }
}
