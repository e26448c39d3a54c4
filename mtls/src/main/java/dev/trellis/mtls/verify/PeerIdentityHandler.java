package dev.trellis.mtls.verify;

import static java.util.Objects.requireNonNull;

import dev.trellis.mtls.MtlsException;
import dev.trellis.mtls.MtlsException.Reason;
import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.svid.X509Svid;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLPeerUnverifiedException;

/**
 * Checks, once per connection, that the peer's SPIFFE ID is one this connection expects.
 *
 * <p>Goes right after the {@link SslHandler}. The chain itself was verified during the handshake by
 * {@link SpiffeTrustManager}; this handler adds the per-connection check that a shared
 * {@code SslContext} cannot make. On success it stores the identity in {@link #PEER_IDENTITY}, fires a
 * {@link PeerVerifiedEvent}, passes the handshake event on and removes itself. On mismatch it fires
 * an {@link MtlsException} ({@link Reason#UNEXPECTED_PEER_IDENTITY}) and closes the channel before
 * any application byte is read or written by the handlers after it.
 */
public final class PeerIdentityHandler extends ChannelInboundHandlerAdapter {

  /** The verified peer identity of a connection, set before {@link PeerVerifiedEvent} fires. */
  public static final AttributeKey<SpiffeId> PEER_IDENTITY = AttributeKey.valueOf("trellis.peerIdentity");

  private final ExpectedPeers expected;

  public PeerIdentityHandler(ExpectedPeers expected) {
    this.expected = requireNonNull(expected, "expected");
  }

  /** The verified peer identity of {@code channel}, or null before verification. */
  public static SpiffeId peerIdentity(Channel channel) {
    return channel.attr(PEER_IDENTITY).get();
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
    if (!(evt instanceof SslHandshakeCompletionEvent done) || !done.isSuccess()) {
      ctx.fireUserEventTriggered(evt);
      return;
    }
    SpiffeId peer;
    try {
      peer = peerOf(ctx);
    } catch (MtlsException e) {
      reject(ctx, e);
      return;
    }
    if (!expected.accepts(peer)) {
      reject(ctx, new MtlsException(Reason.UNEXPECTED_PEER_IDENTITY,
          "peer identity " + peer + " is not the expected " + expected + "; the address may belong to another workload"));
      return;
    }
    ctx.channel().attr(PEER_IDENTITY).set(peer);
    ctx.pipeline().remove(this);
    ctx.fireUserEventTriggered(new PeerVerifiedEvent(peer));
    ctx.fireUserEventTriggered(evt);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    // SslHandler fires no application data before the handshake completes, so this is a broken pipeline.
    ReferenceCountUtil.release(msg);
    reject(ctx, new MtlsException(Reason.UNEXPECTED_PEER_IDENTITY, "application data arrived before the peer was verified"));
  }

  private static SpiffeId peerOf(ChannelHandlerContext ctx) {
    SslHandler ssl = ctx.pipeline().get(SslHandler.class);
    if (ssl == null) {
      throw new MtlsException(Reason.NO_PEER_CERTIFICATE, "no SslHandler in the pipeline before PeerIdentityHandler");
    }
    Certificate[] certs;
    try {
      certs = ssl.engine().getSession().getPeerCertificates();
    } catch (SSLPeerUnverifiedException e) {
      throw new MtlsException(Reason.NO_PEER_CERTIFICATE, "peer presented no certificate (mTLS requires an X.509-SVID)", e);
    }
    if (certs.length == 0 || !(certs[0] instanceof X509Certificate leaf)) {
      throw new MtlsException(Reason.NO_PEER_CERTIFICATE, "peer presented no X.509 certificate");
    }
    return X509Svid.spiffeIdOf(leaf);
  }

  private static void reject(ChannelHandlerContext ctx, MtlsException e) {
    ctx.fireExceptionCaught(e);
    ctx.close();
  }
}
