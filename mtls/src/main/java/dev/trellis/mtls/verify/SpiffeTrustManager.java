package dev.trellis.mtls.verify;

import static java.util.Objects.requireNonNull;

import dev.trellis.mtls.MtlsException;
import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * A trust manager for SPIFFE mTLS, used on both sides of a handshake: it accepts exactly the chains
 * {@link SvidVerifier} accepts. Host names play no part; the per-connection "which identity do I
 * expect" check is {@link PeerIdentityHandler}'s.
 *
 * <p>The rejection is a {@link CertificateException} whose cause is the {@link MtlsException} with the
 * reason, so the handshake fails with a TLS alert and the reason reaches the logs.
 */
public final class SpiffeTrustManager extends X509ExtendedTrustManager {

  private static final X509Certificate[] NO_ISSUERS = new X509Certificate[0];

  private final SvidVerifier verifier;

  public SpiffeTrustManager(SvidVerifier verifier) {
    this.verifier = requireNonNull(verifier, "verifier");
  }

  private void check(X509Certificate[] chain) throws CertificateException {
    try {
      verifier.verify(chain);
    } catch (MtlsException e) {
      throw new CertificateException(e.getMessage(), e);
    }
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
    check(chain);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
    check(chain);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
    check(chain);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
    check(chain);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
    check(chain);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
    check(chain);
  }

  /**
   * Empty on purpose: a server's CertificateRequest then names no CAs, so a client picks its one SVID
   * even when a plug-in CA's intermediates are not in the list (some key managers would refuse).
   */
  @Override
  public X509Certificate[] getAcceptedIssuers() {
    return NO_ISSUERS;
  }
}
