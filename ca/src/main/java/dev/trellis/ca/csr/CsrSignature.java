package dev.trellis.ca.csr;

import dev.trellis.ca.CaException;
import dev.trellis.ca.CaException.Reason;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.Provider;
import java.security.PublicKey;
import java.security.Signature;
import java.util.Map;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x9.X9ObjectIdentifiers;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;

/**
 * Verifies a CSR's self-signature. Bouncy Castle's provider verifies P-256 ECDSA about twice as fast
 * as the JDK's (measured: ~190 µs against ~400 µs on the CI machine), and verification is most of a
 * Sign call's cost, so it is used here, as a private instance that is never registered with the JVM
 * (TLS and everything else keep the JDK providers). Only the signature algorithms a CSR should use
 * are accepted.
 */
final class CsrSignature {

  private static final Provider BC = new BouncyCastleProvider();

  private static final Map<ASN1ObjectIdentifier, String> ALGORITHMS = Map.of(
      X9ObjectIdentifiers.ecdsa_with_SHA256, "SHA256withECDSA",
      X9ObjectIdentifiers.ecdsa_with_SHA384, "SHA384withECDSA",
      X9ObjectIdentifiers.ecdsa_with_SHA512, "SHA512withECDSA",
      PKCSObjectIdentifiers.sha256WithRSAEncryption, "SHA256withRSA",
      PKCSObjectIdentifiers.sha384WithRSAEncryption, "SHA384withRSA",
      PKCSObjectIdentifiers.sha512WithRSAEncryption, "SHA512withRSA");

  private CsrSignature() {}

  static void verify(PKCS10CertificationRequest csr, PublicKey key) {
    ASN1ObjectIdentifier oid = csr.getSignatureAlgorithm().getAlgorithm();
    String algorithm = ALGORITHMS.get(oid);
    if (algorithm == null) {
      throw new CaException(Reason.CSR_SIGNATURE_INVALID, "CSR signature algorithm " + oid.getId()
          + " is not supported (expected: ECDSA or RSA PKCS#1 v1.5 with SHA-256, SHA-384 or SHA-512)");
    }
    boolean valid;
    try {
      Signature verifier = Signature.getInstance(algorithm, BC);
      verifier.initVerify(key);
      verifier.update(csr.toASN1Structure().getCertificationRequestInfo().getEncoded("DER"));
      valid = verifier.verify(csr.getSignature());
    } catch (GeneralSecurityException | IOException | RuntimeException e) {
      throw new CaException(Reason.CSR_SIGNATURE_INVALID, "CSR signature cannot be checked (" + algorithm + "): "
          + e.getMessage(), e);
    }
    if (!valid) {
      throw new CaException(Reason.CSR_SIGNATURE_INVALID,
          "CSR signature does not verify with the CSR's own public key (the CSR was altered or signed with another key)");
    }
  }
}
