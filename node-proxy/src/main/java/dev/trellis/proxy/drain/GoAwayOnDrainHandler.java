package dev.trellis.proxy.drain;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.Http2ConnectionAdapter;
import io.netty.handler.codec.http2.Http2ConnectionHandler;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.util.concurrent.Ticker;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Goes right after the {@code Http2FrameCodec} of a connection the proxy serves HTTP/2 on (downstream h2, HBONE): when
 * the proxy drains ({@link DrainEvent}) it closes the connection the HTTP/2 way, in two steps as Envoy and gRPC
 * servers do: first a shutdown notice, GOAWAY (NO_ERROR) naming the largest stream id, so that a stream the peer opens
 * while the notice travels is still served rather than refused (h2load counted such streams as errored); then, after
 * {@link #NOTICE}, the final GOAWAY naming the last stream the peer opened and Netty's graceful close: the open
 * streams finish, then the connection closes; the drain's timeout cuts it if they do not. An HBONE connection gets the notice at once; a downstream one once it has been quiet or has
 * waited long enough ({@link DrainDecision#http2NoticeDue}), checked every {@link #CHECK_EVERY}. A connection whose
 * HTTP/2 pipeline is installed after the drain began starts after its first read, so the requests that came with its
 * preface are served.
 */
public final class GoAwayOnDrainHandler extends ChannelInboundHandlerAdapter {

  /** Between the shutdown notice and the close: time for the notice to reach the peer and its last streams to come. */
  static final Duration NOTICE = Duration.ofSeconds(1);

  /** How often a draining downstream connection checks whether its notice is due. */
  static final Duration CHECK_EVERY = Duration.ofMillis(100);

  private final DrainDecision.Kind kind;
  private boolean began;
  private boolean told;
  private long drainBegan;
  /** When a stream last opened or closed, since the drain began (ticker nanoseconds). */
  private long lastStreamChange;

  private GoAwayOnDrainHandler(DrainDecision.Kind kind) {
    this.kind = kind;
  }

  /** For a downstream HTTP/2 (prior knowledge) connection: the notice waits for a quiet moment. */
  public static GoAwayOnDrainHandler downstream() {
    return new GoAwayOnDrainHandler(DrainDecision.Kind.HTTP2);
  }

  /** For an HBONE connection: the notice goes at once. */
  public static GoAwayOnDrainHandler hbone() {
    return new GoAwayOnDrainHandler(DrainDecision.Kind.HBONE);
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
    if (evt instanceof DrainEvent drain) {
      begin(ctx, drain);
    }
    super.userEventTriggered(ctx, evt);
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    if (!began) {
      DrainEvent drain = DrainEvent.of(ctx.channel());
      if (drain != null) {
        begin(ctx, drain);
      }
    }
    ctx.fireChannelReadComplete();
  }

  private void begin(ChannelHandlerContext ctx, DrainEvent drain) {
    if (began) {
      return;
    }
    began = true;
    Http2ConnectionHandler codec = ctx.pipeline().get(Http2ConnectionHandler.class);
    if (codec == null) {
      ctx.channel().close();
      return;
    }
    switch (DrainDecision.decide(kind, false)) {
      case GO_AWAY -> goAway(ctx, codec);
      case GO_AWAY_WHEN_QUIET -> {
        Ticker ticker = ctx.executor().ticker();
        drainBegan = ticker.nanoTime();
        lastStreamChange = drainBegan;
        codec.connection().addListener(new Http2ConnectionAdapter() {
          @Override
          public void onStreamActive(Http2Stream stream) {
            lastStreamChange = ticker.nanoTime();
          }

          @Override
          public void onStreamClosed(Http2Stream stream) {
            lastStreamChange = ticker.nanoTime();
          }
        });
        checkNotice(ctx, codec, drain.timeout());
      }
      default -> throw new IllegalStateException("not an HTTP/2 drain: " + kind);
    }
  }

  private void checkNotice(ChannelHandlerContext ctx, Http2ConnectionHandler codec, Duration timeout) {
    if (told || !ctx.channel().isActive()) {
      return;
    }
    long now = ctx.executor().ticker().nanoTime();
    Duration quiet = codec.connection().numActiveStreams() == 0 ? Duration.ofNanos(now - lastStreamChange)
        : Duration.ZERO;
    if (DrainDecision.http2NoticeDue(Duration.ofNanos(now - drainBegan), quiet, timeout)) {
      goAway(ctx, codec);
    } else {
      ctx.executor().schedule(() -> checkNotice(ctx, codec, timeout), CHECK_EVERY.toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  private void goAway(ChannelHandlerContext ctx, Http2ConnectionHandler codec) {
    if (told) {
      return;
    }
    told = true;
    codec.gracefulShutdownTimeoutMillis(-1); // no timer of its own: the drain's timeout cuts what is left
    ChannelHandlerContext codecContext = ctx.pipeline().context(codec);
    codec.goAway(codecContext, Integer.MAX_VALUE, Http2Error.NO_ERROR.code(), Unpooled.EMPTY_BUFFER,
        codecContext.newPromise());
    codecContext.flush();
    ctx.executor().schedule(() -> {
      if (ctx.channel().isActive()) {
        // The final GOAWAY names the last stream the peer opened: one it opens from now on is not served, and the
        // peer knows it may send it again elsewhere. (Netty's close sends no GOAWAY of its own once one went out.)
        codec.goAway(codecContext, codec.connection().remote().lastStreamCreated(), Http2Error.NO_ERROR.code(),
            Unpooled.EMPTY_BUFFER, codecContext.newPromise());
      }
      ctx.channel().close(); // waits for the open streams, then closes
    }, NOTICE.toMillis(), TimeUnit.MILLISECONDS);
  }
}
