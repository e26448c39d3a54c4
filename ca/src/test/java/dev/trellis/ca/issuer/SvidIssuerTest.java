package dev.trellis.ca.issuer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.ca.CaException;
import dev.trellis.ca.CaException.Reason;
import dev.trellis.ca.csr.CsrValidator;
import dev.trellis.ca.csr.ValidatedCsr;
import dev.trellis.ca.store.SigningAuthority;
import dev.trellis.ca.testing.TestCsrs;
import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.svid.TrustBundle;
import dev.trellis.mtls.svid.X509Svid;
import dev.trellis.mtls.testing.ManualClock;
import dev.trellis.mtls.verify.SvidVerifier;
import java.math.BigInteger;
import java.security.KeyPair;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.bouncycastle.asn1.ASN1OctetString;
import org.bouncycastle.asn1.x509.AuthorityKeyIdentifier;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.SubjectKeyIdentifier;
import org.junit.jupiter.api.Test;

class SvidIssuerTest {

  private static final TrustDomain TD = TrustDomain.CLUSTER_LOCAL;
  private static final SpiffeId ID = SpiffeId.forWorkload(TD, "shop", "web");
  private static final Instant NOW = Instant.parse("2026-06-01T12:00:00Z");

  private final SigningAuthority root = RootGenerator.newRoot(TD, NOW.minus(Duration.ofDays(1)), Duration.ofDays(3650), new SecureRandom());
  private final TrustBundle bundle = TrustBundle.of(TD, List.of(root.root()));
  private final SvidIssuer issuer = new SvidIssuer(IssuancePolicy.defaults(), new SecureRandom());
  private final CsrValidator validator = new CsrValidator(TD);

  private ValidatedCsr csr(KeyPair key) {
    return validator.validate(TestCsrs.csr(key, ID.toString()), ID);
  }

  @Test
  void issuesAnX509SvidPerTheSpiffeSpec() throws Exception {
    KeyPair key = TestCsrs.ec("secp256r1");
    IssuedChain issued = issuer.issue(root, csr(key), Duration.ZERO, NOW, bundle);
    X509Certificate leaf = issued.leaf();

    assertThat(issued.chain()).hasSize(1);
    assertThat(X509Svid.uriSans(leaf)).containsExactly(ID.toString());
    assertThat(leaf.getSubjectX500Principal().getName()).isEmpty();
    assertThat(leaf.getCriticalExtensionOIDs()).contains(Extension.subjectAlternativeName.getId(),
        Extension.basicConstraints.getId(), Extension.keyUsage.getId());
    assertThat(leaf.getBasicConstraints()).isEqualTo(-1);
    boolean[] ku = leaf.getKeyUsage();
    assertThat(ku[0]).as("digitalSignature").isTrue();
    assertThat(ku[2]).as("keyEncipherment only for RSA").isFalse();
    assertThat(ku[5]).as("keyCertSign").isFalse();
    assertThat(ku[6]).as("cRLSign").isFalse();
    assertThat(leaf.getExtendedKeyUsage()).containsExactlyInAnyOrder("1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2");
    assertThat(leaf.getPublicKey()).isEqualTo(key.getPublic());
    leaf.verify(root.certificate().getPublicKey());

    byte[] ski = SubjectKeyIdentifier.getInstance(ASN1OctetString.getInstance(leaf.getExtensionValue(
        Extension.subjectKeyIdentifier.getId())).getOctets()).getKeyIdentifier();
    assertThat(ski).isNotEmpty();
    AuthorityKeyIdentifier akiExt = AuthorityKeyIdentifier.getInstance(ASN1OctetString.getInstance(leaf.getExtensionValue(
        Extension.authorityKeyIdentifier.getId())).getOctets());
    assertThat(akiExt.getAuthorityCertIssuer()).as("key identifier only").isNull();
    byte[] aki = akiExt.getKeyIdentifierOctets();
    byte[] rootSki = SubjectKeyIdentifier.getInstance(ASN1OctetString.getInstance(root.certificate().getExtensionValue(
        Extension.subjectKeyIdentifier.getId())).getOctets()).getKeyIdentifier();
    assertThat(aki).isEqualTo(rootSki);

    assertThat(leaf.getNotBefore().toInstant()).isEqualTo(NOW.minus(Duration.ofMinutes(1)));
    assertThat(leaf.getNotAfter().toInstant()).isEqualTo(NOW.plus(Duration.ofHours(24)));
    assertThat(issued.grantedTtl()).isEqualTo(Duration.ofHours(24));

    ManualClock clock = new ManualClock(NOW);
    assertThat(new SvidVerifier(bundle, TD, clock).verify(issued.chain().toArray(X509Certificate[]::new))).isEqualTo(ID);
  }

  @Test
  void serialsAre128RandomPositiveBits() {
    ValidatedCsr csr = csr(TestCsrs.ec("secp256r1"));
    Set<BigInteger> serials = new HashSet<>();
    int wide = 0;
    for (int i = 0; i < 200; i++) {
      BigInteger serial = issuer.issue(root, csr, Duration.ZERO, NOW, bundle).leaf().getSerialNumber();
      assertThat(serial.signum()).isPositive();
      assertThat(serial.bitLength()).isLessThanOrEqualTo(128);
      if (serial.bitLength() > 120) {
        wide++;
      }
      serials.add(serial);
    }
    assertThat(serials).hasSize(200);
    // A uniform 128-bit value has more than 120 bits with probability 1 - 2^-8.
    assertThat(wide).isGreaterThan(190);
  }

  @Test
  void servingCertificatesCarryDnsNamesBesideTheSingleUriSan() throws Exception {
    X509Certificate leaf = issuer.issue(root, csr(TestCsrs.ec("secp256r1")), Duration.ZERO, NOW, bundle,
        List.of("localhost", "trellis-control-plane.trellis-system.svc")).leaf();
    assertThat(X509Svid.uriSans(leaf)).containsExactly(ID.toString());
    assertThat(leaf.getSubjectAlternativeNames()).extracting(san -> san.get(0) + "=" + san.get(1)).containsExactly(
        "6=" + ID, "2=localhost", "2=trellis-control-plane.trellis-system.svc");
    assertThat(new SvidVerifier(bundle, TD, new ManualClock(NOW)).verify(new X509Certificate[] {leaf})).isEqualTo(ID);
  }

  @Test
  void rsaKeysAlsoGetKeyEnciphermentUsage() {
    X509Certificate leaf = issuer.issue(root, csr(TestCsrs.rsa(2048)), Duration.ZERO, NOW, bundle).leaf();
    assertThat(leaf.getKeyUsage()[0]).isTrue();
    assertThat(leaf.getKeyUsage()[2]).isTrue();
  }

  @Test
  void honoursARequestedTtlAndCapsOneAboveTheMaximum() {
    ValidatedCsr csr = csr(TestCsrs.ec("secp256r1"));
    assertThat(issuer.issue(root, csr, Duration.ofHours(1), NOW, bundle).leaf().getNotAfter().toInstant())
        .isEqualTo(NOW.plus(Duration.ofHours(1)));
    IssuedChain capped = issuer.issue(root, csr, Duration.ofDays(365), NOW, bundle);
    assertThat(capped.grantedTtl()).isEqualTo(Duration.ofDays(7));
    assertThat(capped.leaf().getNotAfter().toInstant()).isEqualTo(NOW.plus(Duration.ofDays(7)));
  }

  @Test
  void rejectsNegativeAndTooShortTtls() {
    ValidatedCsr csr = csr(TestCsrs.ec("secp256r1"));
    assertThatThrownBy(() -> issuer.issue(root, csr, Duration.ofSeconds(-1), NOW, bundle))
        .isInstanceOfSatisfying(CaException.class, e -> assertThat(e.reason()).isEqualTo(Reason.INVALID_REQUEST))
        .hasMessageContaining("ttl: PT-1S (expected: >= 0");
    assertThatThrownBy(() -> issuer.issue(root, csr, Duration.ofSeconds(5), NOW, bundle))
        .hasMessageContaining("expected: at least PT1M");
  }

  @Test
  void neverOutlivesTheSigningCertificate() {
    SigningAuthority shortLived = RootGenerator.newRoot(TD, NOW, Duration.ofHours(2), new SecureRandom());
    IssuedChain issued = issuer.issue(shortLived, csr(TestCsrs.ec("secp256r1")), Duration.ZERO, NOW, bundle);
    assertThat(issued.leaf().getNotAfter()).isEqualTo(shortLived.certificate().getNotAfter());
    assertThat(issued.grantedTtl()).isLessThanOrEqualTo(Duration.ofHours(2));
  }

  @Test
  void refusesToSignWithAnExpiredAuthority() {
    SigningAuthority expired = RootGenerator.newRoot(TD, NOW.minus(Duration.ofDays(10)), Duration.ofDays(1), new SecureRandom());
    assertThatThrownBy(() -> issuer.issue(expired, csr(TestCsrs.ec("secp256r1")), Duration.ZERO, NOW, bundle))
        .isInstanceOfSatisfying(CaException.class, e -> assertThat(e.reason()).isEqualTo(Reason.INVALID_CA_MATERIAL))
        .hasMessageContaining("expired at");
  }

  @Test
  void policyRejectsInconsistentLimits() {
    assertThatThrownBy(() -> new IssuancePolicy(Duration.ofHours(24), Duration.ofHours(1), Duration.ofMinutes(1), Duration.ZERO))
        .hasMessage("maxTtl: PT1H (expected: >= defaultTtl PT24H)");
    assertThatThrownBy(() -> new IssuancePolicy(Duration.ZERO, Duration.ofHours(1), Duration.ofMinutes(1), Duration.ZERO))
        .hasMessage("defaultTtl: PT0S (expected: > 0)");
    assertThat(IssuancePolicy.defaults().withMaxTtl(Duration.ofHours(1)).defaultTtl()).isEqualTo(Duration.ofHours(1));
  }
}
