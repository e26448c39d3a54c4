package dev.trellis.ca.issuer;

import dev.trellis.ca.CaException;
import dev.trellis.ca.CaException.Reason;
import dev.trellis.ca.csr.CsrBuilder;
import dev.trellis.ca.store.SigningAuthority;
import dev.trellis.mtls.identity.TrustDomain;
import java.math.BigInteger;
import java.security.KeyPair;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Date;
import java.util.HexFormat;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;

/** Creates self-signed EC P-256 roots for a trust domain. */
public final class RootGenerator {

  /** Roots live ten years; workload certificates a day, so a root outlives many rotations of its leaves. */
  public static final Duration DEFAULT_LIFETIME = Duration.ofDays(3650);

  private RootGenerator() {}

  public static SigningAuthority newRoot(TrustDomain trustDomain, Instant now, Duration lifetime, SecureRandom random) {
    KeyPair key = CsrBuilder.newKeyPair();
    byte[] serial = randomBytes(random);
    // Two roots of one trust domain must never share a subject, or path building may pick the wrong one.
    String tag = HexFormat.of().formatHex(serial, 0, 4);
    X500Name name = new X500NameBuilder(BCStyle.INSTANCE)
        .addRDN(BCStyle.O, "Trellis")
        .addRDN(BCStyle.OU, trustDomain.name())
        .addRDN(BCStyle.CN, "Trellis root CA " + now.atOffset(ZoneOffset.UTC).toLocalDate() + " " + tag)
        .build();
    try {
      JcaX509ExtensionUtils utils = new JcaX509ExtensionUtils();
      X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(name, new BigInteger(1, serial),
          Date.from(now.minus(Duration.ofMinutes(1))), Date.from(now.plus(lifetime)), name, key.getPublic());
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
      b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
      b.addExtension(Extension.subjectKeyIdentifier, false, utils.createSubjectKeyIdentifier(key.getPublic()));
      b.addExtension(Extension.authorityKeyIdentifier, false, utils.createAuthorityKeyIdentifier(key.getPublic()));
      // The SPIFFE ID of the trust domain itself: what this root vouches for.
      b.addExtension(Extension.subjectAlternativeName, false,
          new GeneralNames(new GeneralName(GeneralName.uniformResourceIdentifier, trustDomain.idString())));
      X509Certificate cert = new JcaX509CertificateConverter().getCertificate(b.build(SvidIssuer.signer(key.getPrivate())));
      return new SigningAuthority(key.getPrivate(), List.of(cert));
    } catch (Exception e) {
      throw new CaException(Reason.INVALID_CA_MATERIAL, "cannot create a root CA for " + trustDomain + ": "
          + e.getMessage(), e);
    }
  }

  private static byte[] randomBytes(SecureRandom random) {
    byte[] b = new byte[16];
    random.nextBytes(b);
    b[0] |= 0x01; // never zero
    return b;
  }
}
