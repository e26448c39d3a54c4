package dev.trellis.proxy.inbound;

import dev.trellis.mtls.MtlsException;
import dev.trellis.mtls.verify.PeerIdentityHandler;
import dev.trellis.proxy.refusal.Refusal;
import dev.trellis.proxy.refusal.Refusals;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.ssl.SniCompletionEvent;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Last in an HBONE connection's pipeline, for its whole life: whatever ends the connection before the peer is
 * authenticated (a failed SNI lookup or handshake, any exception) becomes one counted, rate-limited
 * {@link Refusals refusal} and a close — nothing reaches the pipeline's tail, where Netty would log the stack
 * trace of every hostile ClientHello. After the peer is verified, an exception that gets here closes the
 * connection with a debug line. One refusal per connection, however many events report the same failure.
 */
final class RefusalHandler extends ChannelInboundHandlerAdapter {

  private static final Logger log = LoggerFactory.getLogger(RefusalHandler.class);

  private final Refusals refusals;
  private boolean refused;

  RefusalHandler(Refusals refusals) {
    this.refusals = refusals;
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt instanceof SslHandshakeCompletionEvent done && !done.isSuccess()) {
      refuse(ctx, done.cause());
    } else if (evt instanceof SniCompletionEvent sni && !sni.isSuccess()) {
      refuse(ctx, sni.cause());
    }
    ctx.fireUserEventTriggered(evt);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (PeerIdentityHandler.peerIdentity(ctx.channel()) != null) {
      log.debug("[{}] closing HBONE connection from {}: {}", ctx.channel().id(), ctx.channel().remoteAddress(),
          cause.toString());
      ctx.close();
      return;
    }
    refuse(ctx, cause);
  }

  /** Counts and logs the refusal (once per connection) and closes. */
  void refuse(ChannelHandlerContext ctx, Refusal reason, String detail) {
    if (!refused) {
      refused = true;
      refusals.refuse(Refusal.Listener.HBONE, reason, ctx.channel().remoteAddress(), detail);
    }
    ctx.close();
  }

  private void refuse(ChannelHandlerContext ctx, Throwable cause) {
    Refusal reason = classify(cause);
    refuse(ctx, reason, detail(reason, cause));
  }

  /** Which refusal a failure before authentication is: the first cause in the chain that says. */
  static Refusal classify(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
      switch (t) {
        case HboneServer.Refused r -> {
          return r.reason();
        }
        case NotSslRecordException e -> {
          return Refusal.NOT_TLS;
        }
        case MtlsException e -> {
          return Refusal.PEER_IDENTITY;
        }
        case SSLException e -> {
          return Refusal.TLS_HANDSHAKE;
        }
        case TooLongFrameException e -> {
          return Refusal.TLS_HANDSHAKE; // a ClientHello over 64 KiB
        }
        default -> { }
      }
    }
    return Refusal.CONNECTION_ERROR;
  }

  /** The log line's detail: ours where the cause carries the peer's bytes (a hex dump of whatever was sent). */
  private static String detail(Refusal reason, Throwable cause) {
    if (reason == Refusal.NOT_TLS) {
      return "the first bytes are not a TLS ClientHello (HBONE is mutual TLS)";
    }
    for (Throwable t = cause; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof HboneServer.Refused) {
        return t.getMessage();
      }
      if (t.getCause() == null) {
        return t.toString(); // the root cause says most (a certificate problem, a timeout)
      }
    }
    return cause.toString();
  }
}
