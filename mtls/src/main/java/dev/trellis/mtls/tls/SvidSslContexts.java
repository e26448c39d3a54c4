package dev.trellis.mtls.tls;

import dev.trellis.mtls.MtlsException;
import dev.trellis.mtls.MtlsException.Reason;
import dev.trellis.mtls.svid.IssuedSvid;
import dev.trellis.mtls.svid.X509Svid;
import dev.trellis.mtls.verify.SpiffeTrustManager;
import dev.trellis.mtls.verify.SvidVerifier;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolConfig.Protocol;
import io.netty.handler.ssl.ApplicationProtocolConfig.SelectedListenerFailureBehavior;
import io.netty.handler.ssl.ApplicationProtocolConfig.SelectorFailureBehavior;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.security.cert.X509Certificate;
import java.time.Clock;
import javax.net.ssl.SSLException;

/**
 * Builds Netty {@link SslContext}s for SPIFFE mTLS from an SVID and its trust bundle. Both sides
 * present their SVID, require the peer's, and verify it with {@link SpiffeTrustManager}; host names
 * are not checked (SPIFFE identities replace them).
 *
 * <p>Session resumption plays no part: contexts are built without a peer host, so clients never
 * offer a cached session and every connection runs a full handshake with certificate verification.
 */
public final class SvidSslContexts {

  private SvidSslContexts() {}

  public static SslContext forServer(IssuedSvid credentials, TlsOptions options, Clock clock) {
    X509Svid svid = credentials.svid();
    SslContextBuilder builder = SslContextBuilder.forServer(svid.privateKey(), chain(svid))
        .clientAuth(ClientAuth.REQUIRE);
    return build(builder, credentials, options, clock);
  }

  public static SslContext forClient(IssuedSvid credentials, TlsOptions options, Clock clock) {
    X509Svid svid = credentials.svid();
    SslContextBuilder builder = SslContextBuilder.forClient()
        .keyManager(svid.privateKey(), chain(svid))
        .endpointIdentificationAlgorithm(null);
    return build(builder, credentials, options, clock);
  }

  private static SslContext build(SslContextBuilder builder, IssuedSvid credentials, TlsOptions options, Clock clock) {
    X509Svid svid = credentials.svid();
    SvidVerifier verifier = new SvidVerifier(credentials.bundle(), svid.id().trustDomain(), clock);
    builder.sslProvider(options.provider().resolve())
        .protocols(options.protocols())
        .trustManager(new SpiffeTrustManager(verifier));
    if (!options.alpn().isEmpty()) {
      builder.applicationProtocolConfig(new ApplicationProtocolConfig(Protocol.ALPN,
          SelectorFailureBehavior.NO_ADVERTISE, SelectedListenerFailureBehavior.ACCEPT, options.alpn()));
    }
    try {
      return builder.build();
    } catch (SSLException | RuntimeException e) {
      throw new MtlsException(Reason.TLS_CONTEXT, "cannot build a TLS context for " + svid.id() + " with provider "
          + options.provider() + ": " + e.getMessage(), e);
    }
  }

  private static X509Certificate[] chain(X509Svid svid) {
    return svid.chain().toArray(X509Certificate[]::new);
  }
}
