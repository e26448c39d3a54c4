package dev.trellis.ca.issuer;

import static java.util.Objects.requireNonNull;

import dev.trellis.ca.CaException;
import dev.trellis.ca.CaException.Reason;
import dev.trellis.ca.csr.KeyPolicy.KeyKind;
import dev.trellis.ca.csr.ValidatedCsr;
import dev.trellis.ca.store.SigningAuthority;
import dev.trellis.mtls.svid.TrustBundle;
import java.math.BigInteger;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPrivateKey;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.ASN1OctetString;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.AuthorityKeyIdentifier;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.asn1.x509.SubjectKeyIdentifier;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Mints X.509-SVIDs per the SPIFFE X.509-SVID spec: empty subject with exactly one URI SAN (critical),
 * {@code CA:false}, keyUsage digitalSignature (+keyEncipherment for RSA keys), EKU serverAuth and
 * clientAuth, a 128-bit random serial, AKI/SKI, notBefore back-dated by the policy's skew allowance,
 * and a lifetime of the requested TTL (default when unset, capped to the policy maximum and to the
 * signing chain's own expiry). Time is passed in, so the issuer is a function of its inputs and the
 * random source.
 */
public final class SvidIssuer {

  private final IssuancePolicy policy;
  private final SecureRandom random;

  public SvidIssuer(IssuancePolicy policy, SecureRandom random) {
    this.policy = requireNonNull(policy, "policy");
    this.random = requireNonNull(random, "random");
  }

  public IssuancePolicy policy() {
    return policy;
  }

  /**
   * The lifetime granted for {@code requested}: the default when zero, capped to the maximum.
   *
   * @throws CaException {@link Reason#INVALID_REQUEST} for a negative TTL or one below the minimum
   */
  public Duration grantedTtl(Duration requested) {
    if (requested == null || requested.isZero()) {
      return policy.defaultTtl();
    }
    if (requested.isNegative()) {
      throw new CaException(Reason.INVALID_REQUEST, "ttl: " + requested + " (expected: >= 0; 0 means the default "
          + policy.defaultTtl() + ")");
    }
    if (requested.compareTo(policy.minTtl()) < 0) {
      throw new CaException(Reason.INVALID_REQUEST, "ttl: " + requested + " (expected: at least " + policy.minTtl()
          + ", or 0 for the default " + policy.defaultTtl() + ")");
    }
    return requested.compareTo(policy.maxTtl()) > 0 ? policy.maxTtl() : requested;
  }

  public IssuedChain issue(SigningAuthority authority, ValidatedCsr csr, Duration requestedTtl, Instant now,
      TrustBundle bundle) {
    return issue(authority, csr, requestedTtl, now, bundle, List.of());
  }

  /**
   * Like {@link #issue(SigningAuthority, ValidatedCsr, Duration, Instant, TrustBundle)}, adding DNS SANs
   * beside the SPIFFE ID (the X.509-SVID spec allows them) for servers that standard TLS clients
   * verify by host name, such as the control plane's own port 15012.
   */
  public IssuedChain issue(SigningAuthority authority, ValidatedCsr csr, Duration requestedTtl, Instant now,
      TrustBundle bundle, List<String> dnsNames) {
    Duration ttl = grantedTtl(requestedTtl);
    Instant notAfter = now.plus(ttl);
    for (X509Certificate c : authority.chain()) {
      Instant caExpiry = c.getNotAfter().toInstant();
      if (!caExpiry.isAfter(now)) {
        throw new CaException(Reason.INVALID_CA_MATERIAL, "signing chain certificate '" + c.getSubjectX500Principal()
            + "' expired at " + caExpiry + "; rotate the CA (plug in a new intermediate or stage a new root)");
      }
      if (caExpiry.isBefore(notAfter)) {
        notAfter = caExpiry;
      }
    }
    Instant notBefore = now.minus(policy.backdate());
    X509Certificate signer = authority.certificate();
    try {
      JcaX509ExtensionUtils utils = new JcaX509ExtensionUtils();
      X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(signer, serial(), Date.from(notBefore),
          Date.from(notAfter), new X500Name(""), csr.publicKey());
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
      int usage = KeyUsage.digitalSignature | (csr.keyKind() == KeyKind.RSA ? KeyUsage.keyEncipherment : 0);
      b.addExtension(Extension.keyUsage, true, new KeyUsage(usage));
      b.addExtension(Extension.extendedKeyUsage, false,
          new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
      // Subject is empty, so the SAN must be critical (RFC 5280 4.2.1.6).
      List<GeneralName> names = new ArrayList<>();
      names.add(new GeneralName(GeneralName.uniformResourceIdentifier, csr.identity().toString()));
      dnsNames.forEach(d -> names.add(new GeneralName(GeneralName.dNSName, d)));
      b.addExtension(Extension.subjectAlternativeName, true, new GeneralNames(names.toArray(GeneralName[]::new)));
      b.addExtension(Extension.subjectKeyIdentifier, false, utils.createSubjectKeyIdentifier(csr.publicKey()));
      b.addExtension(Extension.authorityKeyIdentifier, false, authorityKeyIdentifier(signer, utils));
      X509Certificate leaf = new JcaX509CertificateConverter().getCertificate(b.build(signer(authority.key())));
      List<X509Certificate> chain = new ArrayList<>(1 + authority.intermediates().size());
      chain.add(leaf);
      chain.addAll(authority.intermediates());
      return new IssuedChain(chain, bundle, Duration.between(now, notAfter));
    } catch (CaException e) {
      throw e;
    } catch (Exception e) {
      throw new CaException(Reason.INVALID_CA_MATERIAL, "signing failed with authority " + authority.id() + ": "
          + e.getMessage(), e);
    }
  }

  /**
   * Key identifier only (no issuer name and serial, which would tie leaves to one certificate of the
   * key), copied from the signer's own SKI so the two always match, even for a plug-in CA whose SKI
   * was computed another way.
   */
  private static AuthorityKeyIdentifier authorityKeyIdentifier(X509Certificate signer, JcaX509ExtensionUtils utils) {
    byte[] ext = signer.getExtensionValue(Extension.subjectKeyIdentifier.getId());
    if (ext != null) {
      return new AuthorityKeyIdentifier(
          SubjectKeyIdentifier.getInstance(ASN1OctetString.getInstance(ext).getOctets()).getKeyIdentifier());
    }
    return utils.createAuthorityKeyIdentifier(signer.getPublicKey());
  }

  /** 128 random bits, positive and non-zero (RFC 5280 4.1.2.2; CA/B Forum asks for >= 64 bits of entropy). */
  private BigInteger serial() {
    byte[] bytes = new byte[16];
    BigInteger serial;
    do {
      random.nextBytes(bytes);
      serial = new BigInteger(1, bytes);
    } while (serial.signum() == 0);
    return serial;
  }

  static ContentSigner signer(PrivateKey key) throws OperatorCreationException {
    return new JcaContentSignerBuilder(signatureAlgorithm(key)).build(key);
  }

  static String signatureAlgorithm(PrivateKey key) {
    if (key instanceof ECPrivateKey ec) {
      return ec.getParams().getCurve().getField().getFieldSize() > 256 ? "SHA384withECDSA" : "SHA256withECDSA";
    }
    if (key.getAlgorithm().equals("RSA")) {
      return "SHA256withRSA";
    }
    throw new CaException(Reason.INVALID_CA_MATERIAL, "unsupported CA key algorithm " + key.getAlgorithm()
        + " (expected: EC P-256/P-384 or RSA)");
  }
}
