package dev.trellis.controlplane.server;

import dev.trellis.mtls.svid.IssuedSvid;
import dev.trellis.mtls.svid.SvidListener;
import dev.trellis.mtls.svid.X509Svid;
import java.net.Socket;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * The control plane's own serving certificate for port 15012, as a key manager that always answers
 * with the current SVID: renewal (an {@link SvidListener} callback) takes effect for the next
 * handshake without restarting the gRPC server.
 */
final class ServingKeyManager extends X509ExtendedKeyManager implements SvidListener {

  private static final String ALIAS = "trellis-control-plane";

  private volatile X509Svid current;

  @Override
  public void onSvidUpdate(IssuedSvid update) {
    current = update.svid();
  }

  X509Svid current() {
    return current;
  }

  @Override
  public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
    return matches(keyType) ? ALIAS : null;
  }

  @Override
  public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
    return matches(keyType) ? ALIAS : null;
  }

  private boolean matches(String keyType) {
    X509Svid svid = current;
    return svid != null && (keyType == null || keyType.startsWith(svid.privateKey().getAlgorithm()));
  }

  @Override
  public String[] getServerAliases(String keyType, Principal[] issuers) {
    return matches(keyType) ? new String[] {ALIAS} : null;
  }

  @Override
  public X509Certificate[] getCertificateChain(String alias) {
    X509Svid svid = current;
    return svid == null ? null : svid.chain().toArray(X509Certificate[]::new);
  }

  @Override
  public PrivateKey getPrivateKey(String alias) {
    X509Svid svid = current;
    return svid == null ? null : svid.privateKey();
  }

  @Override
  public String[] getClientAliases(String keyType, Principal[] issuers) {
    return null;
  }

  @Override
  public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
    return null;
  }
}
