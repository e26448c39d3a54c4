package dev.trellis.ca.csr;

import dev.trellis.ca.CaException;
import dev.trellis.ca.CaException.Reason;
import java.io.IOException;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.ASN1Primitive;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.RSAPublicKey;
import org.bouncycastle.asn1.sec.SECObjectIdentifiers;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.asn1.x9.ECNamedCurveTable;
import org.bouncycastle.asn1.x9.X9ObjectIdentifiers;

/**
 * Which subject keys the CA signs: EC on P-256 or P-384 (named curves), RSA from 2048 to 8192 bits.
 * Everything else is refused with {@link Reason#WEAK_KEY}. Decided from the encoded key's algorithm
 * identifiers, before any cryptography runs on it.
 */
public final class KeyPolicy {

  static final int MIN_RSA_BITS = 2048;
  static final int MAX_RSA_BITS = 8192;

  /** The kind of an accepted key; decides the key usage bits of the certificate. */
  public enum KeyKind {
    EC_P256,
    EC_P384,
    RSA;
  }

  private KeyPolicy() {}

  public static KeyKind check(SubjectPublicKeyInfo spki) {
    AlgorithmIdentifier alg = spki.getAlgorithm();
    ASN1ObjectIdentifier oid = alg.getAlgorithm();
    if (oid.equals(X9ObjectIdentifiers.id_ecPublicKey)) {
      if (!(alg.getParameters() instanceof ASN1ObjectIdentifier curve)) {
        throw new CaException(Reason.WEAK_KEY,
            "CSR EC key uses explicit curve parameters; use the named curve P-256 (secp256r1) or P-384 (secp384r1)");
      }
      if (curve.equals(X9ObjectIdentifiers.prime256v1)) {
        return KeyKind.EC_P256;
      }
      if (curve.equals(SECObjectIdentifiers.secp384r1)) {
        return KeyKind.EC_P384;
      }
      throw new CaException(Reason.WEAK_KEY, "CSR EC key is on curve " + curveName(curve)
          + ", which is not supported; use P-256 (secp256r1, preferred) or P-384 (secp384r1)");
    }
    if (oid.equals(PKCSObjectIdentifiers.rsaEncryption)) {
      int bits;
      try {
        bits = RSAPublicKey.getInstance(ASN1Primitive.fromByteArray(spki.getPublicKeyData().getBytes()))
            .getModulus().bitLength();
      } catch (IOException | RuntimeException e) {
        throw new CaException(Reason.MALFORMED_CSR, "CSR RSA public key cannot be decoded: " + e.getMessage(), e);
      }
      if (bits < MIN_RSA_BITS) {
        throw new CaException(Reason.WEAK_KEY, "CSR RSA key has " + bits + " bits (expected: at least " + MIN_RSA_BITS
            + "; EC P-256 keys are preferred)");
      }
      if (bits > MAX_RSA_BITS) {
        throw new CaException(Reason.WEAK_KEY, "CSR RSA key has " + bits + " bits (expected: at most " + MAX_RSA_BITS + ")");
      }
      return KeyKind.RSA;
    }
    throw new CaException(Reason.WEAK_KEY, "CSR key algorithm " + oid.getId()
        + " is not supported; use EC P-256 (preferred), EC P-384 or RSA with at least 2048 bits");
  }

  private static String curveName(ASN1ObjectIdentifier curve) {
    String name = ECNamedCurveTable.getName(curve);
    return name != null ? name + " (" + curve.getId() + ")" : curve.getId();
  }
}
