package dev.trellis.mtls.svid;

import static java.util.Objects.requireNonNull;

import dev.trellis.mtls.MtlsException;
import dev.trellis.mtls.MtlsException.Reason;
import dev.trellis.mtls.identity.SpiffeId;
import java.security.PrivateKey;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * An X.509-SVID: a leaf certificate whose single URI SAN is a SPIFFE ID, the intermediates up to (not
 * including) the root, and the leaf's private key.
 */
public final class X509Svid {

  private static final int SAN_URI = 6;

  private final SpiffeId id;
  private final List<X509Certificate> chain;
  private final PrivateKey privateKey;

  private X509Svid(SpiffeId id, List<X509Certificate> chain, PrivateKey privateKey) {
    this.id = id;
    this.chain = chain;
    this.privateKey = privateKey;
  }

  /**
   * Builds an SVID from a chain (leaf first) and the leaf's private key.
   *
   * @throws MtlsException {@link Reason#INVALID_SVID} if the chain is empty, the key does not belong to
   *     the leaf, or the leaf is a CA; or the reason from {@link #spiffeIdOf} for a bad URI SAN
   */
  public static X509Svid of(List<X509Certificate> chain, PrivateKey privateKey) {
    requireNonNull(privateKey, "privateKey");
    if (chain == null || chain.isEmpty()) {
      throw new MtlsException(Reason.INVALID_SVID, "SVID certificate chain is empty");
    }
    X509Certificate leaf = chain.getFirst();
    SpiffeId id = spiffeIdOf(leaf);
    if (leaf.getBasicConstraints() >= 0) {
      throw new MtlsException(Reason.INVALID_SVID, "SVID leaf for " + id + " is a CA certificate (CA:true)");
    }
    if (!KeyPairs.matches(leaf.getPublicKey(), privateKey)) {
      throw new MtlsException(Reason.INVALID_SVID,
          "private key does not belong to the SVID leaf for " + id + " (key and certificate are from different pairs)");
    }
    return new X509Svid(id, List.copyOf(chain), privateKey);
  }

  /** Parses a PEM chain (leaf first) and a PEM PKCS#8 private key. */
  public static X509Svid fromPem(String chainPem, String keyPem) {
    return of(Pem.decodeCertificates(chainPem), Pem.decodePrivateKey(keyPem));
  }

  /**
   * The SPIFFE ID in the certificate's one URI SAN.
   *
   * @throws MtlsException {@link Reason#NO_URI_SAN}, {@link Reason#MULTIPLE_URI_SANS} or
   *     {@link Reason#INVALID_SPIFFE_ID}
   */
  public static SpiffeId spiffeIdOf(X509Certificate cert) {
    List<String> uris = uriSans(cert);
    if (uris.isEmpty()) {
      throw new MtlsException(Reason.NO_URI_SAN,
          "certificate '" + cert.getSubjectX500Principal() + "' has no URI SAN (an X.509-SVID carries exactly one SPIFFE ID)");
    }
    if (uris.size() > 1) {
      throw new MtlsException(Reason.MULTIPLE_URI_SANS,
          "certificate has " + uris.size() + " URI SANs " + uris + " (an X.509-SVID carries exactly one)");
    }
    return SpiffeId.parse(uris.getFirst());
  }

  /** All URI SANs of a certificate, in order. */
  public static List<String> uriSans(X509Certificate cert) {
    Collection<List<?>> sans;
    try {
      sans = cert.getSubjectAlternativeNames();
    } catch (CertificateParsingException e) {
      throw new MtlsException(Reason.INVALID_SVID, "certificate's SAN extension cannot be parsed: " + e.getMessage(), e);
    }
    List<String> uris = new ArrayList<>(1);
    if (sans != null) {
      for (List<?> san : sans) {
        if (san.size() >= 2 && Integer.valueOf(SAN_URI).equals(san.get(0))) {
          uris.add(String.valueOf(san.get(1)));
        }
      }
    }
    return uris;
  }

  public SpiffeId id() {
    return id;
  }

  public X509Certificate leaf() {
    return chain.getFirst();
  }

  /** Leaf first, then intermediates; never the root. */
  public List<X509Certificate> chain() {
    return chain;
  }

  public PrivateKey privateKey() {
    return privateKey;
  }

  public Instant notBefore() {
    return leaf().getNotBefore().toInstant();
  }

  public Instant notAfter() {
    return leaf().getNotAfter().toInstant();
  }

  /** When renewal is due: half-way through the leaf's validity. */
  public Instant renewalTime() {
    Duration lifetime = Duration.between(notBefore(), notAfter());
    return notBefore().plus(lifetime.dividedBy(2));
  }

  public String chainPem() {
    return Pem.encodeCertificates(chain);
  }

  public String privateKeyPem() {
    return Pem.encodePrivateKey(privateKey);
  }

  @Override
  public String toString() {
    return "X509Svid{" + id + ", serial=" + leaf().getSerialNumber().toString(16) + ", notAfter=" + notAfter() + "}";
  }
}
