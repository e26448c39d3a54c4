package dev.trellis.proxy.http;

import dev.trellis.proxy.drain.DrainDecision;
import dev.trellis.proxy.drain.DrainEvent;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Last in a downstream HTTP/1.1 connection's pipeline, after {@code HttpServerCodec}: runs its
 * requests one at a time as {@link HttpExchange}s. Auto-read is off; the connection is read when no
 * request is in progress or when the exchange wants more body. Pipelined requests decoded early wait
 * in order. A request the decoder rejects (malformed, smuggling-shaped, oversized) gets 400, 414 or
 * 431 and the connection closes.
 */
final class Http1DownstreamHandler extends ChannelInboundHandlerAdapter implements HttpExchange.Downstream {

  private static final Logger log = LoggerFactory.getLogger(Http1DownstreamHandler.class);

  private final HttpContext cx;
  private final ArrayDeque<HttpObject> queued = new ArrayDeque<>();
  private ChannelHandlerContext ctx;
  private HttpExchange current;
  /** The connection's header and idle deadlines; null once it left the pipeline (a protocol switch). */
  private HttpSniffHandler timers;
  /** The current request's body timeout, or null between requests. */
  private RequestBodyTimer bodyTimer;
  private boolean closing;
  private boolean inputClosed;
  /** Draining: whether a request arrived since the last quiet check ({@link DrainDecision#HTTP1_QUIET}). */
  private boolean readSinceQuietCheck;

  /** @param timers the connection's first handler, which keeps its header and idle deadlines; may be null */
  Http1DownstreamHandler(HttpContext cx, HttpSniffHandler timers) {
    this.cx = cx;
    this.timers = timers;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
    ctx.channel().config().setAutoRead(false);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    readSinceQuietCheck = true;
    if (closing || !(msg instanceof HttpObject o)) {
      ReferenceCountUtil.release(msg);
      return;
    }
    if (o.decoderResult().isFailure()) {
      ReferenceCountUtil.release(msg);
      reject(o.decoderResult().cause());
      return;
    }
    if (o instanceof HttpRequest req && req.protocolVersion().majorVersion() != 1) {
      ReferenceCountUtil.release(msg);
      reject(new UnsupportedVersionException(req.protocolVersion().text()));
      return;
    }
    queued.add(o);
    drain();
  }

  private void drain() {
    while (!queued.isEmpty() && !closing) {
      HttpObject m = queued.peek();
      if (m instanceof HttpRequest req) {
        if (current != null) {
          return;
        }
        queued.poll();
        if (timers != null) {
          timers.requestStarted();
        }
        current = new HttpExchange(this, cx);
        bodyTimer = new RequestBodyTimer(ctx.executor(), System::nanoTime, cx.limits(), this::bodyStalled);
        current.start(req);
      } else {
        queued.poll();
        if (current == null) {
          ReferenceCountUtil.release(m); // the rest of a request answered early
        } else {
          if (m instanceof LastHttpContent) {
            stopBodyTimer();
          } else if (bodyTimer != null) {
            bodyTimer.received();
          }
          current.onRequestContent((HttpContent) m);
        }
      }
    }
  }

  /** The client stopped sending the body the exchange waits for: 408, or the end if the response has begun. */
  private void bodyStalled() {
    if (current != null) {
      log.debug("[{}] request body stalled for {} ms", ctx.channel().id(), cx.limits().requestBodyTimeout().toMillis());
      current.onRequestBodyTimeout();
    }
  }

  private void stopBodyTimer() {
    if (bodyTimer != null) {
      bodyTimer.stop();
      bodyTimer = null;
    }
  }

  private void reject(Throwable cause) {
    HttpResponseStatus status = cause instanceof UnsupportedVersionException ? HttpResponseStatus.HTTP_VERSION_NOT_SUPPORTED
        : cause instanceof TooLongHttpHeaderException ? HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
        : cause instanceof TooLongHttpLineException ? HttpResponseStatus.REQUEST_URI_TOO_LONG
        : cause instanceof TooLongFrameException ? HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE
        : HttpResponseStatus.BAD_REQUEST;
    log.debug("[{}] rejected a request: {}", ctx.channel().id(), cause.toString());
    closing = true;
    stopBodyTimer();
    queued.forEach(ReferenceCountUtil::release);
    queued.clear();
    if (current != null && !current.finished()) {
      current.onDownstreamClosed();
      ctx.close();
      return;
    }
    FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
        Unpooled.copiedBuffer(status.reasonPhrase() + "\n", StandardCharsets.UTF_8));
    r.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
    r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, r.content().readableBytes());
    r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    r.headers().set(HeaderHygiene.FLAGS, LocalReply.Flag.DPE.name());
    ctx.writeAndFlush(r).addListener(ChannelFutureListener.CLOSE);
  }

  /** A request line naming an HTTP version other than 1.x. */
  private static final class UnsupportedVersionException extends RuntimeException {
    UnsupportedVersionException(String version) {
      super("HTTP version " + version + " is not supported (expected HTTP/1.0 or HTTP/1.1)", null, false, false);
    }
  }

  @Override
  public Channel channel() {
    return ctx.channel();
  }

  @Override
  public void read() {
    if (bodyTimer != null) {
      bodyTimer.reading();
    }
    ctx.read();
  }

  @Override
  public boolean draining() {
    return DrainEvent.draining(ctx.channel());
  }

  @Override
  public void done(boolean keepAlive, ChannelFuture lastWrite) {
    current = null;
    stopBodyTimer();
    if (!keepAlive || inputClosed && queued.isEmpty() || draining()) {
      closing = true;
      queued.forEach(ReferenceCountUtil::release);
      queued.clear();
      ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
      return;
    }
    drain();
    if (current == null) {
      if (timers != null) {
        timers.awaitingRequest();
      }
      ctx.read();
    }
  }

  /** A client that half-closed after its request still gets the response; then the connection closes. */
  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt instanceof DrainEvent) {
      // In flight: the response carries Connection: close (HttpExchange asks draining()), done() then closes.
      if (!closing && DrainDecision.decide(DrainDecision.Kind.HTTP1, current != null || !queued.isEmpty())
          == DrainDecision.Action.CLOSE_WHEN_QUIET) {
        readSinceQuietCheck = false;
        ctx.executor().schedule(() -> closeIfQuiet(ctx), DrainDecision.HTTP1_QUIET.toMillis(), TimeUnit.MILLISECONDS);
      }
      return;
    }
    if (evt instanceof ChannelInputShutdownEvent) {
      inputClosed = true;
      if (current != null && !current.requestComplete()) {
        // The client left mid-request: the rest can never come.
        closing = true;
        stopBodyTimer();
        current.onDownstreamClosed();
        current = null;
        ctx.close();
        return;
      }
      if (current == null && queued.isEmpty()) {
        closing = true;
        ctx.close();
      }
      return;
    }
    ctx.fireUserEventTriggered(evt);
  }

  /**
   * Draining, and idle when the drain began: closes the connection if nothing came for {@link DrainDecision#HTTP1_QUIET};
   * a request in flight closes it after its response ({@code Connection: close}); otherwise looks again later.
   */
  private void closeIfQuiet(ChannelHandlerContext ctx) {
    if (closing || !ctx.channel().isActive() || current != null || !queued.isEmpty()) {
      return;
    }
    if (readSinceQuietCheck) {
      readSinceQuietCheck = false;
      ctx.executor().schedule(() -> closeIfQuiet(ctx), DrainDecision.HTTP1_QUIET.toMillis(), TimeUnit.MILLISECONDS);
      return;
    }
    closing = true;
    ctx.close();
  }

  @Override
  public boolean upgradable() {
    return true;
  }

  /** Hands the connection to a byte relay: the HTTP codec's leftover bytes go to the relay as it leaves. */
  @Override
  public void upgrade(ChannelHandler relay) {
    current = null;
    stopBodyTimer();
    closing = true;
    queued.forEach(ReferenceCountUtil::release);
    queued.clear();
    ChannelPipeline p = ctx.pipeline();
    p.addLast("relay", relay);
    if (timers != null) {
      p.remove(timers);
      timers = null;
    }
    p.remove(this);
    p.remove(HttpServerCodec.class);
  }

  @Override
  public void abort() {
    current = null;
    stopBodyTimer();
    closing = true;
    ctx.close();
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    if (current != null && ctx.channel().isWritable()) {
      current.onDownstreamWritable();
    }
    ctx.fireChannelWritabilityChanged();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    closing = true;
    stopBodyTimer();
    if (current != null) {
      current.onDownstreamClosed();
      current = null;
    }
    queued.forEach(ReferenceCountUtil::release);
    queued.clear();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug("[{}] downstream error: {}", ctx.channel().id(), cause.toString());
    ctx.close();
  }
}
