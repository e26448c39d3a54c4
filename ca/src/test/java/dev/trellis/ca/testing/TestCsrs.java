package dev.trellis.ca.testing;

import dev.trellis.mtls.svid.Pem;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PublicKey;
import java.security.spec.ECGenParameterSpec;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.ExtensionsGenerator;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/** CSRs for tests, including the malformed ones a CA must refuse. */
public final class TestCsrs {

  private TestCsrs() {}

  public static KeyPair ec(String curve) {
    return generate("EC", new ECGenParameterSpec(curve), 0);
  }

  public static KeyPair rsa(int bits) {
    return generate("RSA", null, bits);
  }

  public static KeyPair ed25519() {
    return generate("Ed25519", null, 0);
  }

  private static KeyPair generate(String algorithm, ECGenParameterSpec spec, int bits) {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance(algorithm);
      if (spec != null) {
        g.initialize(spec);
      } else if (bits > 0) {
        g.initialize(bits);
      }
      return g.generateKeyPair();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** A CSR with the given URI SANs, for {@code key}'s public key, signed by {@code key}. */
  public static String csr(KeyPair key, String... uris) {
    return csr(key.getPublic(), key, uris);
  }

  /** A CSR signed with an explicit signature algorithm, e.g. an outdated one. */
  public static String csrSignedWith(String algorithm, KeyPair key, String... uris) {
    return build(key.getPublic(), key, algorithm, uris);
  }

  /** A CSR carrying {@code subjectKey} but signed with {@code signingKey}: its signature does not verify when they differ. */
  public static String csr(PublicKey subjectKey, KeyPair signingKey, String... uris) {
    String alg = switch (signingKey.getPrivate().getAlgorithm()) {
      case "RSA" -> "SHA256withRSA";
      case "Ed25519", "EdDSA" -> "Ed25519";
      default -> "SHA256withECDSA";
    };
    return build(subjectKey, signingKey, alg, uris);
  }

  private static String build(PublicKey subjectKey, KeyPair signingKey, String alg, String... uris) {
    try {
      JcaPKCS10CertificationRequestBuilder b = new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=test"), subjectKey);
      if (uris.length > 0) {
        ExtensionsGenerator ext = new ExtensionsGenerator();
        GeneralName[] names = List.of(uris).stream().map(u -> new GeneralName(GeneralName.uniformResourceIdentifier, u))
            .toArray(GeneralName[]::new);
        ext.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(names));
        b.addAttribute(PKCSObjectIdentifiers.pkcs_9_at_extensionRequest, ext.generate());
      }
      return Pem.encode("CERTIFICATE REQUEST", b.build(new JcaContentSignerBuilder(alg).build(signingKey.getPrivate())).getEncoded());
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
