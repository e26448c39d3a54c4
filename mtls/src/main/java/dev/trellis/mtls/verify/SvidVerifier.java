package dev.trellis.mtls.verify;

import static java.util.Objects.requireNonNull;

import dev.trellis.mtls.MtlsException;
import dev.trellis.mtls.MtlsException.Reason;
import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.svid.TrustBundle;
import dev.trellis.mtls.svid.X509Svid;
import java.security.GeneralSecurityException;
import java.security.InvalidAlgorithmParameterException;
import java.security.cert.CertPath;
import java.security.cert.CertPathValidator;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Date;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Verifies a peer's X.509-SVID chain: the leaf is an SVID leaf (CA:false, digitalSignature, no
 * certificate signing), it carries exactly one URI SAN that is a SPIFFE ID of the local trust domain,
 * every certificate is within its validity at the clock's time, and the chain leads to a root of the
 * trust bundle. Pure: no I/O, time from the injected clock.
 */
public final class SvidVerifier {

  private static final int KU_DIGITAL_SIGNATURE = 0;
  private static final int KU_KEY_CERT_SIGN = 5;
  private static final int KU_CRL_SIGN = 6;

  private final TrustBundle bundle;
  private final TrustDomain trustDomain;
  private final Clock clock;
  private final Set<TrustAnchor> anchors;

  public SvidVerifier(TrustBundle bundle, TrustDomain trustDomain, Clock clock) {
    this.bundle = requireNonNull(bundle, "bundle");
    this.trustDomain = requireNonNull(trustDomain, "trustDomain");
    this.clock = requireNonNull(clock, "clock");
    Set<TrustAnchor> a = new HashSet<>();
    for (X509Certificate root : bundle.roots(trustDomain)) {
      a.add(new TrustAnchor(root, null));
    }
    this.anchors = Set.copyOf(a);
  }

  public TrustDomain trustDomain() {
    return trustDomain;
  }

  public TrustBundle bundle() {
    return bundle;
  }

  /**
   * Returns the peer's SPIFFE ID if {@code chain} (leaf first) is a valid SVID of this trust domain.
   *
   * @throws MtlsException naming the reason and the offending certificate
   */
  public SpiffeId verify(X509Certificate[] chain) {
    if (chain == null || chain.length == 0) {
      throw new MtlsException(Reason.NO_PEER_CERTIFICATE, "peer presented no certificate (mTLS requires an X.509-SVID)");
    }
    X509Certificate leaf = chain[0];
    SpiffeId id = X509Svid.spiffeIdOf(leaf);
    checkLeaf(leaf, id);
    if (!id.trustDomain().equals(trustDomain)) {
      throw new MtlsException(Reason.FOREIGN_TRUST_DOMAIN, "peer " + id + " is in trust domain '" + id.trustDomain()
          + "', but this side trusts only '" + trustDomain + "'");
    }
    Instant now = clock.instant();
    for (int i = 0; i < chain.length; i++) {
      checkValidity(chain[i], i == 0 ? "leaf of " + id : "chain certificate " + i + " of " + id, now);
    }
    checkPath(chain, id, now);
    return id;
  }

  private static void checkLeaf(X509Certificate leaf, SpiffeId id) {
    if (leaf.getBasicConstraints() >= 0) {
      throw new MtlsException(Reason.NOT_A_LEAF,
          "certificate of " + id + " is a CA certificate (CA:true); an X.509-SVID leaf must have CA:false");
    }
    boolean[] usage = leaf.getKeyUsage();
    if (usage != null) {
      if (!bit(usage, KU_DIGITAL_SIGNATURE)) {
        throw new MtlsException(Reason.NOT_A_LEAF, "certificate of " + id + " lacks keyUsage digitalSignature");
      }
      if (bit(usage, KU_KEY_CERT_SIGN) || bit(usage, KU_CRL_SIGN)) {
        throw new MtlsException(Reason.NOT_A_LEAF,
            "certificate of " + id + " has keyUsage keyCertSign or cRLSign, which an X.509-SVID leaf must not have");
      }
    }
  }

  private static boolean bit(boolean[] usage, int index) {
    return usage.length > index && usage[index];
  }

  private static void checkValidity(X509Certificate cert, String what, Instant now) {
    Instant notBefore = cert.getNotBefore().toInstant();
    Instant notAfter = cert.getNotAfter().toInstant();
    if (now.isAfter(notAfter)) {
      throw new MtlsException(Reason.EXPIRED, what + " expired at " + notAfter + " (now " + now + ")");
    }
    if (now.isBefore(notBefore)) {
      throw new MtlsException(Reason.NOT_YET_VALID,
          what + " is not valid before " + notBefore + " (now " + now + "; check clock skew between nodes)");
    }
  }

  private void checkPath(X509Certificate[] chain, SpiffeId id, Instant now) {
    if (anchors.isEmpty()) {
      throw new MtlsException(Reason.UNTRUSTED_CHAIN,
          "no trust bundle roots for trust domain '" + trustDomain + "' to verify " + id + " against");
    }
    // A peer may send the root too; a PKIX path must not contain its anchor.
    List<X509Certificate> path = new ArrayList<>(chain.length);
    for (X509Certificate cert : chain) {
      if (!isAnchor(cert)) {
        path.add(cert);
      }
    }
    try {
      CertPath certPath = CertificateFactory.getInstance("X.509").generateCertPath(path);
      PKIXParameters params = new PKIXParameters(anchors);
      params.setRevocationEnabled(false);
      params.setDate(Date.from(now));
      CertPathValidator.getInstance("PKIX").validate(certPath, params);
    } catch (CertPathValidatorException e) {
      throw new MtlsException(Reason.UNTRUSTED_CHAIN, "certificate chain of " + id + " does not lead to a root of trust domain '"
          + trustDomain + "' (" + anchors.size() + " root(s) in the bundle): " + e.getMessage(), e);
    } catch (InvalidAlgorithmParameterException e) {
      throw new MtlsException(Reason.UNTRUSTED_CHAIN, "cannot verify " + id + ": " + e.getMessage(), e);
    } catch (GeneralSecurityException e) {
      throw new MtlsException(Reason.UNTRUSTED_CHAIN, "cannot verify the chain of " + id + ": " + e.getMessage(), e);
    }
  }

  private boolean isAnchor(X509Certificate cert) {
    for (TrustAnchor anchor : anchors) {
      try {
        if (Arrays.equals(anchor.getTrustedCert().getEncoded(), cert.getEncoded())) {
          return true;
        }
      } catch (GeneralSecurityException e) {
        return false;
      }
    }
    return false;
  }
}
