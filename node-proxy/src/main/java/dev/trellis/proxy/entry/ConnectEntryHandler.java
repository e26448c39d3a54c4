package dev.trellis.proxy.entry;

import dev.trellis.proxy.refusal.Refusal;
import dev.trellis.proxy.refusal.Refusals;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * The HTTP CONNECT side of the local-mode entry (what gRPC and most HTTP clients speak to a proxy):
 * {@code CONNECT <vip or fqdn>:<port>} names the original destination, {@code 200} means the tunnel
 * is up; refusals are 403, 502 or 503. Anything but CONNECT gets 405. The client must wait for the
 * 200 before sending its own bytes.
 */
final class ConnectEntryHandler extends SimpleChannelInboundHandler<HttpObject> {

  private final EntryDispatcher dispatcher;
  private final Refusals refusals;
  private final Refusal.Listener listener;
  private boolean handled;

  ConnectEntryHandler(EntryDispatcher dispatcher, Refusals refusals, Refusal.Listener listener) {
    this.dispatcher = dispatcher;
    this.refusals = refusals;
    this.listener = listener;
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) {
    if (handled) {
      return;
    }
    if (!(msg instanceof HttpRequest req)) {
      ctx.read();
      return;
    }
    handled = true;
    if (req.decoderResult().isFailure()) {
      refusals.refuse(listener, Refusal.MALFORMED, ctx.channel().remoteAddress(), "HTTP request: "
          + req.decoderResult().cause());
      answer(ctx, HttpResponseStatus.BAD_REQUEST, "malformed request: " + req.decoderResult().cause().getMessage());
      return;
    }
    if (req.method() != HttpMethod.CONNECT) {
      refusals.refuse(listener, Refusal.UNSUPPORTED, ctx.channel().remoteAddress(), "HTTP " + req.method()
          + " (this entry only tunnels: CONNECT)");
      answer(ctx, HttpResponseStatus.METHOD_NOT_ALLOWED, "this entry only tunnels: use CONNECT <service-vip>:<port>");
      return;
    }
    String target = req.uri();
    EntryTarget to = EntryTarget.ofAuthority(target);
    if (to == null) {
      refusals.refuse(listener, Refusal.MALFORMED, ctx.channel().remoteAddress(), "CONNECT target '" + target
          + "' is not host:port or [ipv6]:port");
      answer(ctx, HttpResponseStatus.BAD_REQUEST, "CONNECT target '" + target + "' is not host:port or [ipv6]:port "
          + "(a service VIP or host name, a port 1-65535)");
      return;
    }
    String source = ((InetSocketAddress) ctx.channel().remoteAddress()).getAddress().getHostAddress();
    EntryDeadlineHandler.disarm(ctx.pipeline());
    dispatcher.dispatch(ctx.channel(), source, to.address(), to.name(), to.port(), new EntryDispatcher.EntryReply() {
      @Override
      public ChannelFuture accept() {
        ChannelFuture f = ctx.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
            new HttpResponseStatus(200, "Connection Established")));
        // From here on the connection carries the client's bytes: the HTTP codec and this handler leave.
        ctx.pipeline().remove(HttpServerCodec.class);
        ctx.pipeline().remove(ConnectEntryHandler.this);
        return f;
      }

      @Override
      public void reject(EntryDispatcher.Refusal why) {
        answer(ctx, switch (why) {
          case FORBIDDEN -> HttpResponseStatus.FORBIDDEN;
          case UNREACHABLE -> HttpResponseStatus.BAD_GATEWAY;
          case OVERFLOW -> HttpResponseStatus.SERVICE_UNAVAILABLE;
        }, "refused: " + why.name().toLowerCase(Locale.ROOT));
      }
    });
  }

  /**
   * What the HTTP codec throws instead of handing on a failed message, e.g. its limit of 128 pipelined requests (found
   * by fuzzing: a client sending more after its first request got an exception to the end of the pipeline, which Netty
   * logs with a stack trace): the client broke the protocol; counted as a refusal, and the connection closes.
   */
  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    EntryErrors.caught(ctx, cause, refusals, listener);
  }

  private static void answer(ChannelHandlerContext ctx, HttpResponseStatus status, String message) {
    FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
        Unpooled.copiedBuffer(message + "\n", StandardCharsets.UTF_8));
    r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, r.content().readableBytes());
    r.headers().set(HttpHeaderNames.CONNECTION, "close");
    ctx.writeAndFlush(r).addListener(ChannelFutureListener.CLOSE);
  }
}
