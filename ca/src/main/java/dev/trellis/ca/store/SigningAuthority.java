package dev.trellis.ca.store;

import static java.util.Objects.requireNonNull;

import dev.trellis.ca.CaException;
import dev.trellis.ca.CaException.Reason;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.PrivateKey;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.util.HexFormat;
import java.util.List;

/**
 * A key that signs workload certificates and its chain: the signing certificate first, then any
 * intermediates, the root last (a self-signed root's chain is just itself).
 *
 * @param key the signing certificate's private key
 * @param chain signing certificate first, root last
 */
public record SigningAuthority(PrivateKey key, List<X509Certificate> chain) {

  public SigningAuthority {
    requireNonNull(key, "key");
    chain = List.copyOf(chain);
    if (chain.isEmpty()) {
      throw new CaException(Reason.INVALID_CA_MATERIAL, "signing authority has an empty certificate chain");
    }
  }

  public X509Certificate certificate() {
    return chain.getFirst();
  }

  public X509Certificate root() {
    return chain.getLast();
  }

  /** Intermediates that go after the leaf in every issued chain: the chain without its root. */
  public List<X509Certificate> intermediates() {
    return chain.subList(0, chain.size() - 1);
  }

  /** A stable short name: the first 16 hex digits of the signing certificate's SHA-256 fingerprint. */
  public String id() {
    return fingerprint(certificate()).substring(0, 16);
  }

  static String fingerprint(X509Certificate cert) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(cert.getEncoded()));
    } catch (NoSuchAlgorithmException | CertificateEncodingException e) {
      throw new CaException(Reason.INVALID_CA_MATERIAL, "cannot fingerprint " + cert.getSubjectX500Principal(), e);
    }
  }
}
