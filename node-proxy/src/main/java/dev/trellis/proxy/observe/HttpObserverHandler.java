package dev.trellis.proxy.observe;

import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.telemetry.Telemetry;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http2.Http2CodecUtil;
import java.util.function.Consumer;

/**
 * First in the pipeline of a destination node proxy's connection to a local workload's HTTP port, when telemetry
 * observes requests there and no policy needs the full HTTP engine: requests are read from the bytes written to the
 * workload and responses from the bytes it sends back, and each exchange becomes a SERVER span, a server
 * request-duration sample and an access-log line ({@link ExchangeTelemetry}). The connection is relayed as bytes,
 * exactly as without telemetry. The first bytes written tell the protocol: HTTP/2's connection preface starts an
 * {@link Http2Observation}, anything else an {@link Http1Observation}.
 *
 * <p>What it cannot follow (malformed framing, an undecodable header block) it stops observing, tells
 * {@code onUnobserved} why, and removes itself; the connection carries on untouched. Runs on the connection's event
 * loop.
 */
final class HttpObserverHandler extends ChannelDuplexHandler {

  /** What the handler delegates to once it knows the protocol. */
  interface Observation {
    /** Request bytes on their way to the workload; an HTTP/1.1 head's traceparent may be rewritten in place. */
    void requestBytes(ByteBuf buf);

    /** Response bytes on their way back. */
    void responseBytes(ByteBuf buf);

    /** Whether it gave up following the connection (it has told why). */
    boolean opaque();

    /** The connection closed: exchanges it ended are complete, the others are recorded as reset. */
    void closed();

    void release();
  }

  /** Where observed exchanges are recorded. */
  record Recorder(Telemetry telemetry, LocalWorkload target, String peer, Consumer<String> onUnobserved) {}

  static final int MAX_EARLY_BYTES = 16 * 1024;

  private final Recorder recorder;
  private Observation observation;
  private ByteBuf undecided; // the first request bytes while they could still be HTTP/2's preface
  private ByteBuf early; // what the workload sent before any request bytes
  private boolean done;

  /**
   * @param peer the caller's verified identity, empty for a plaintext caller
   * @param onUnobserved told why, when the connection stops being observed
   */
  HttpObserverHandler(Telemetry telemetry, LocalWorkload target, String peer, Consumer<String> onUnobserved) {
    this.recorder = new Recorder(telemetry, target, peer, onUnobserved);
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    if (!done && msg instanceof ByteBuf buf && buf.isReadable()) {
      if (observation == null && !choose(ctx, buf)) {
        ctx.write(msg, promise); // too few bytes to tell yet: they were kept
        return;
      }
      observation.requestBytes(buf);
      if (observation.opaque()) {
        stop(ctx);
      }
    }
    ctx.write(msg, promise);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!done && msg instanceof ByteBuf buf && buf.isReadable()) {
      if (observation == null) {
        keepEarly(ctx, buf);
      } else {
        observation.responseBytes(buf);
        if (observation.opaque()) {
          stop(ctx);
        }
      }
    }
    ctx.fireChannelRead(msg);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    if (!done) {
      done = true;
      if (observation != null) {
        observation.closed();
        observation.release();
      }
    }
    ctx.fireChannelInactive();
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    if (observation != null) {
      observation.release();
    }
    if (undecided != null) {
      undecided.release();
      undecided = null;
    }
    if (early != null) {
      early.release();
      early = null;
    }
  }

  private void stop(ChannelHandlerContext ctx) {
    if (done) {
      return;
    }
    done = true; // exchanges whose ends cannot be seen get no span and no sample (the connection's TCP telemetry remains)
    if (ctx.pipeline().context(this) != null) {
      ctx.pipeline().remove(this);
    }
  }

  /**
   * Keeps a copy of what the workload sends before the first request bytes (an HTTP/2 server's SETTINGS may pass the
   * client's preface), to be followed once the protocol is known; more than {@link #MAX_EARLY_BYTES} is not HTTP.
   */
  private void keepEarly(ChannelHandlerContext ctx, ByteBuf buf) {
    if ((early == null ? 0 : early.readableBytes()) + buf.readableBytes() > MAX_EARLY_BYTES) {
      recorder.onUnobserved().accept("the workload spoke first");
      stop(ctx);
      return;
    }
    if (early == null) {
      early = ctx.alloc().heapBuffer(buf.readableBytes());
    }
    early.writeBytes(buf, buf.readerIndex(), buf.readableBytes());
  }

  /**
   * Picks the protocol from the first request bytes: HTTP/2's connection preface or not. While the bytes so far are
   * a strict beginning of the preface it keeps a copy of them and returns false; once it has chosen, the kept bytes
   * go to the observation first.
   */
  private boolean choose(ChannelHandlerContext ctx, ByteBuf buf) {
    ByteBuf preface = Http2CodecUtil.connectionPrefaceBuf();
    try {
      int kept = undecided == null ? 0 : undecided.readableBytes();
      int n = Math.min(kept + buf.readableBytes(), preface.readableBytes());
      boolean prefix = (undecided == null || undecided.equals(preface.slice(0, kept)))
          && buf.slice(buf.readerIndex(), n - kept).equals(preface.slice(kept, n - kept));
      if (prefix && n < preface.readableBytes()) {
        if (undecided == null) {
          undecided = ctx.alloc().heapBuffer(preface.readableBytes());
        }
        undecided.writeBytes(buf, buf.readerIndex(), buf.readableBytes());
        return false;
      }
      observation = prefix ? new Http2Observation(recorder, ctx.alloc()) : new Http1Observation(recorder, ctx.alloc());
      if (undecided != null) {
        observation.requestBytes(undecided);
        undecided.release();
        undecided = null;
      }
      if (early != null) {
        observation.responseBytes(early);
        early.release();
        early = null;
      }
      return true;
    } finally {
      preface.release();
    }
  }
}
