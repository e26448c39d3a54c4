package dev.trellis.proxy;

import dev.trellis.mtls.svid.Pem;
import io.grpc.ManagedChannel;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import org.slf4j.LoggerFactory;

/**
 * The node proxy's gRPC channel to the control plane (xDS and the CA on one port): plaintext (local mode, port
 * 15010), or TLS trusting only the roots in a PEM bundle ({@code --control-plane-ca}; port 15012, whose serving
 * certificate the control plane's own CA signs). With TLS the server name is checked against the host of the
 * target (gRPC's authority), so a cluster target {@code trellis-control-plane.<ns>.svc:15012} needs that DNS SAN.
 */
final class ControlPlaneChannel {

  private ControlPlaneChannel() {}

  /**
   * A channel to {@code target}; TLS against the roots in {@code caFile} when it is not null.
   *
   * @throws IOException if {@code caFile} cannot be read or holds no PEM certificate (the message names the flag)
   */
  static ManagedChannel open(String target, Path caFile) throws IOException {
    NettyChannelBuilder builder = NettyChannelBuilder.forTarget(target);
    if (caFile == null) {
      return builder.usePlaintext().build();
    }
    return builder.useTransportSecurity().sslContext(sslContext(caFile)).build();
  }

  /**
   * The client TLS context trusting only the roots in {@code caFile}, read again whenever the file changes (a root
   * rotation publishes the new root into the bundle before it signs anything).
   */
  static SslContext sslContext(Path caFile) throws IOException {
    NamingTrustManager trust = new NamingTrustManager(caFile);
    // The JDK provider: its trust manager checks the server name (endpoint identification) in the same call.
    return GrpcSslContexts.configure(SslContextBuilder.forClient(), SslProvider.JDK).trustManager(trust).build();
  }

  /** The PKIX trust manager of {@code roots}. */
  static X509ExtendedTrustManager pkix(List<X509Certificate> roots, Path caFile) throws IOException {
    try {
      KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
      store.load(null, null);
      for (int i = 0; i < roots.size(); i++) {
        store.setCertificateEntry("root-" + i, roots.get(i));
      }
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(store);
      for (TrustManager tm : tmf.getTrustManagers()) {
        if (tm instanceof X509ExtendedTrustManager x) {
          return x;
        }
      }
      throw new IOException("--control-plane-ca: the JDK offers no X.509 trust manager");
    } catch (GeneralSecurityException e) {
      throw new IOException("--control-plane-ca " + caFile + ": " + e.getMessage(), e);
    }
  }

  static List<X509Certificate> readRoots(Path caFile) throws IOException {
    String text;
    try {
      text = Files.readString(caFile, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new IOException("--control-plane-ca " + caFile + ": no such file (the control plane's root bundle, "
          + "ConfigMap trellis-ca-root-cert key root-cert.pem in a cluster)", e);
    } catch (IOException e) {
      throw new IOException("--control-plane-ca " + caFile + ": cannot be read: " + e.getMessage(), e);
    }
    try {
      return Pem.decodeCertificates(text);
    } catch (RuntimeException e) {
      throw new IOException("--control-plane-ca " + caFile + ": not a PEM certificate bundle: " + e.getMessage(), e);
    }
  }

  /**
   * The PKIX trust manager of the bundle, whose refusals say what was checked against what: an operator reading
   * "PKIX path building failed" alone cannot tell which bundle or name was meant.
   */
  private static final class NamingTrustManager extends X509ExtendedTrustManager {
    private final Path caFile;
    private volatile X509ExtendedTrustManager delegate;
    private volatile FileTime loaded;

    NamingTrustManager(Path caFile) throws IOException {
      this.caFile = caFile;
      this.delegate = pkix(readRoots(caFile), caFile); // first: its errors name the flag and the file
      this.loaded = Files.getLastModifiedTime(caFile);
    }

    /**
     * Before each handshake (rare: one connection to the control plane): the bundle again if the file changed. A
     * bundle that cannot be read keeps the last good one (a ConfigMap update swaps the file in atomically anyway).
     */
    private X509ExtendedTrustManager current() {
      try {
        FileTime modified = Files.getLastModifiedTime(caFile);
        if (!modified.equals(loaded)) {
          delegate = pkix(readRoots(caFile), caFile);
          loaded = modified;
          LoggerFactory.getLogger(ControlPlaneChannel.class).info("--control-plane-ca {} changed: "
              + "trusting its roots from now on", caFile);
        }
      } catch (IOException e) {
        LoggerFactory.getLogger(ControlPlaneChannel.class).warn("{}; keeping the roots read before",
            e.getMessage());
      }
      return delegate;
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      try {
        current().checkServerTrusted(chain, authType, engine);
      } catch (CertificateException e) {
        String host = engine == null ? null : engine.getPeerHost();
        throw new CertificateException("the control plane's certificate (" + subject(chain) + ") is not trusted for "
            + (host == null ? "this server" : "server name '" + host + "'") + " by the roots in --control-plane-ca "
            + caFile + " (is it signed by another CA, or for another name?): " + e.getMessage(), e);
      }
    }

    /** The leaf's subject and SAN names: what an operator compares with the target and the bundle. */
    private static String subject(X509Certificate[] chain) {
      if (chain == null || chain.length == 0) {
        return "none";
      }
      StringBuilder s = new StringBuilder(chain[0].getSubjectX500Principal().getName());
      try {
        if (chain[0].getSubjectAlternativeNames() != null) {
          s.append(", names ").append(chain[0].getSubjectAlternativeNames().stream().map(n -> String.valueOf(n.get(1)))
              .toList());
        }
      } catch (CertificateParsingException e) {
        s.append(", unreadable SANs");
      }
      return s.toString();
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
      current().checkServerTrusted(chain, authType, socket);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
      current().checkServerTrusted(chain, authType);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      delegate.checkClientTrusted(chain, authType, engine);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
      delegate.checkClientTrusted(chain, authType, socket);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
      delegate.checkClientTrusted(chain, authType);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return delegate.getAcceptedIssuers();
    }
  }
}
