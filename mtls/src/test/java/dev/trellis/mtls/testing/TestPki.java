package dev.trellis.mtls.testing;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.svid.IssuedSvid;
import dev.trellis.mtls.svid.TrustBundle;
import dev.trellis.mtls.svid.X509Svid;
import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A throw-away PKI for tests: a root (or an intermediate under one) that mints leaves, good and bad.
 * Keys are generated per instance and never written anywhere.
 */
public final class TestPki {

  private static final SecureRandom RANDOM = new SecureRandom();

  private final TrustDomain trustDomain;
  private final KeyPair signerKey;
  private final X509Certificate signerCert;
  private final List<X509Certificate> intermediates;
  private final X509Certificate root;

  private TestPki(TrustDomain trustDomain, KeyPair signerKey, X509Certificate signerCert,
      List<X509Certificate> intermediates, X509Certificate root) {
    this.trustDomain = trustDomain;
    this.signerKey = signerKey;
    this.signerCert = signerCert;
    this.intermediates = intermediates;
    this.root = root;
  }

  /** A new self-signed EC P-256 root, valid from an hour ago for ten years. */
  public static TestPki newRoot(TrustDomain trustDomain) {
    return newRoot(trustDomain, Instant.now().minus(Duration.ofHours(1)), Duration.ofDays(3650));
  }

  public static TestPki newRoot(TrustDomain trustDomain, Instant notBefore, Duration lifetime) {
    KeyPair key = ecKey();
    X500Name name = new X500Name("O=Trellis Test,CN=Test Root " + RANDOM.nextInt(1_000_000));
    X509Certificate cert = sign(name, key.getPublic(), name, key, null, notBefore, notBefore.plus(lifetime),
        caExtensions());
    return new TestPki(trustDomain, key, cert, List.of(), cert);
  }

  /** A new intermediate CA signed by this PKI's signer; its leaves carry the intermediate in their chain. */
  public TestPki newIntermediate() {
    KeyPair key = ecKey();
    X500Name name = new X500Name("O=Trellis Test,CN=Test Intermediate " + RANDOM.nextInt(1_000_000));
    Instant nb = signerCert.getNotBefore().toInstant();
    X509Certificate cert = sign(name, key.getPublic(), issuerName(), signerKey, signerCert, nb,
        signerCert.getNotAfter().toInstant(), caExtensions());
    List<X509Certificate> chain = new ArrayList<>();
    chain.add(cert);
    chain.addAll(intermediates);
    return new TestPki(trustDomain, key, cert, List.copyOf(chain), root);
  }

  public TrustDomain trustDomain() {
    return trustDomain;
  }

  public X509Certificate root() {
    return root;
  }

  public KeyPair signerKey() {
    return signerKey;
  }

  public X509Certificate signerCertificate() {
    return signerCert;
  }

  public TrustBundle bundle() {
    return TrustBundle.of(trustDomain, List.of(root));
  }

  /** A leaf builder for {@code spiffe://<td>/ns/<namespace>/sa/<sa>}. */
  public LeafBuilder leaf(String namespace, String serviceAccount) {
    return new LeafBuilder().uris(SpiffeId.forWorkload(trustDomain, namespace, serviceAccount).toString());
  }

  /** A leaf builder with no URI SAN yet. */
  public LeafBuilder leaf() {
    return new LeafBuilder();
  }

  /** A valid SVID for {@code ns/sa} with this PKI's bundle. */
  public IssuedSvid issue(String namespace, String serviceAccount) {
    return leaf(namespace, serviceAccount).issue();
  }

  /** Builds leaves, including the malformed ones tests need. */
  public final class LeafBuilder {
    private List<String> uris = List.of();
    private Instant notBefore = Instant.now().minus(Duration.ofMinutes(5));
    private Instant notAfter = Instant.now().plus(Duration.ofHours(24));
    private boolean ca;
    private int keyUsage = KeyUsage.digitalSignature;
    private KeyPair key;

    public LeafBuilder uris(String... uris) {
      this.uris = List.of(uris);
      return this;
    }

    public LeafBuilder validity(Instant notBefore, Instant notAfter) {
      this.notBefore = notBefore;
      this.notAfter = notAfter;
      return this;
    }

    public LeafBuilder ca() {
      this.ca = true;
      this.keyUsage = KeyUsage.digitalSignature | KeyUsage.keyCertSign | KeyUsage.cRLSign;
      return this;
    }

    public LeafBuilder keyUsage(int bits) {
      this.keyUsage = bits;
      return this;
    }

    public LeafBuilder key(KeyPair key) {
      this.key = key;
      return this;
    }

    /** The minted leaf, its chain (leaf first, intermediates after) and key, without validation. */
    public Minted mint() {
      KeyPair k = key != null ? key : ecKey();
      try {
        JcaX509ExtensionUtils utils = new JcaX509ExtensionUtils();
        List<Ext> exts = new ArrayList<>();
        exts.add(new Ext(Extension.basicConstraints, true, new BasicConstraints(ca)));
        exts.add(new Ext(Extension.keyUsage, true, new KeyUsage(keyUsage)));
        exts.add(new Ext(Extension.extendedKeyUsage, false,
            new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth})));
        if (!uris.isEmpty()) {
          GeneralName[] names = uris.stream().map(u -> new GeneralName(GeneralName.uniformResourceIdentifier, u))
              .toArray(GeneralName[]::new);
          exts.add(new Ext(Extension.subjectAlternativeName, true, new GeneralNames(names)));
        }
        exts.add(new Ext(Extension.subjectKeyIdentifier, false, utils.createSubjectKeyIdentifier(k.getPublic())));
        // The JDK refuses an empty subject without a SAN extension.
        X500Name subject = new X500Name(uris.isEmpty() ? "CN=leaf without SAN" : "");
        X509Certificate leaf = sign(subject, k.getPublic(), issuerName(), signerKey, signerCert, notBefore,
            notAfter, exts);
        List<X509Certificate> chain = new ArrayList<>();
        chain.add(leaf);
        chain.addAll(intermediates);
        return new Minted(List.copyOf(chain), k.getPrivate());
      } catch (GeneralSecurityException e) {
        throw new IllegalStateException(e);
      }
    }

    /** Mints and wraps as a validated SVID with this PKI's bundle. */
    public IssuedSvid issue() {
      Minted m = mint();
      return new IssuedSvid(X509Svid.of(m.chain(), m.key()), bundle());
    }
  }

  /** A minted chain and its key. */
  public record Minted(List<X509Certificate> chain, PrivateKey key) {
    public X509Certificate[] chainArray() {
      return chain.toArray(X509Certificate[]::new);
    }
  }

  private X500Name issuerName() {
    return X500Name.getInstance(signerCert.getSubjectX500Principal().getEncoded());
  }

  private record Ext(org.bouncycastle.asn1.ASN1ObjectIdentifier oid, boolean critical,
      org.bouncycastle.asn1.ASN1Encodable value) {}

  private static List<Ext> caExtensions() {
    return List.of(new Ext(Extension.basicConstraints, true, new BasicConstraints(true)),
        new Ext(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign)));
  }

  public static KeyPair ecKey() {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"));
      return g.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  private static X509Certificate sign(X500Name subject, PublicKey subjectKey, X500Name issuer, KeyPair issuerKey,
      X509Certificate issuerCert, Instant notBefore, Instant notAfter, List<Ext> extensions) {
    try {
      X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(issuer, new BigInteger(128, RANDOM).add(BigInteger.ONE),
          Date.from(notBefore), Date.from(notAfter), subject, subjectKey);
      JcaX509ExtensionUtils utils = new JcaX509ExtensionUtils();
      boolean hasSki = false;
      for (Ext e : extensions) {
        b.addExtension(e.oid(), e.critical(), e.value());
        hasSki |= e.oid().equals(Extension.subjectKeyIdentifier);
      }
      if (!hasSki) {
        b.addExtension(Extension.subjectKeyIdentifier, false, utils.createSubjectKeyIdentifier(subjectKey));
      }
      b.addExtension(Extension.authorityKeyIdentifier, false, issuerCert == null
          ? utils.createAuthorityKeyIdentifier(subjectKey) : utils.createAuthorityKeyIdentifier(issuerCert));
      return new JcaX509CertificateConverter().getCertificate(
          b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(issuerKey.getPrivate())));
    } catch (Exception e) {
      throw new IllegalStateException("test certificate minting failed", e);
    }
  }
}
