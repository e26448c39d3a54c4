package dev.trellis.mtls.verify;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.mtls.MtlsException;
import dev.trellis.mtls.MtlsException.Reason;
import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.svid.TrustBundle;
import dev.trellis.mtls.testing.ManualClock;
import dev.trellis.mtls.testing.TestPki;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.junit.jupiter.api.Test;

class SvidVerifierTest {

  private static final TrustDomain TD = TrustDomain.CLUSTER_LOCAL;
  private final TestPki pki = TestPki.newRoot(TD);
  private final ManualClock clock = new ManualClock(Instant.now());
  private final SvidVerifier verifier = new SvidVerifier(pki.bundle(), TD, clock);

  @Test
  void acceptsValidSvidAndReturnsItsId() {
    assertThat(verifier.verify(pki.leaf("default", "web").mint().chainArray()))
        .isEqualTo(SpiffeId.parse("spiffe://cluster.local/ns/default/sa/web"));
  }

  @Test
  void acceptsChainThroughIntermediateAndChainThatIncludesTheRoot() {
    TestPki intermediate = pki.newIntermediate();
    X509Certificate[] chain = intermediate.leaf("a", "b").mint().chainArray();
    assertThat(chain).hasSize(2);
    assertThat(verifier.verify(chain).toString()).endsWith("/ns/a/sa/b");

    X509Certificate[] withRoot = List.of(chain[0], chain[1], pki.root()).toArray(X509Certificate[]::new);
    assertThat(verifier.verify(withRoot).toString()).endsWith("/ns/a/sa/b");
  }

  @Test
  void rejectsEmptyChain() {
    assertReason(new X509Certificate[0], Reason.NO_PEER_CERTIFICATE, "presented no certificate");
  }

  @Test
  void rejectsExpiredLeaf() {
    Instant now = clock.instant();
    assertReason(pki.leaf("a", "b").validity(now.minus(Duration.ofHours(2)), now.minus(Duration.ofHours(1))).mint(),
        Reason.EXPIRED, "leaf of spiffe://cluster.local/ns/a/sa/b expired at");
  }

  @Test
  void rejectsNotYetValidLeaf() {
    Instant now = clock.instant();
    assertReason(pki.leaf("a", "b").validity(now.plus(Duration.ofHours(1)), now.plus(Duration.ofHours(2))).mint(),
        Reason.NOT_YET_VALID, "check clock skew");
  }

  @Test
  void validityFollowsTheInjectedClock() {
    X509Certificate[] chain = pki.leaf("a", "b").mint().chainArray();
    clock.advance(Duration.ofDays(2));
    assertThatThrownBy(() -> verifier.verify(chain)).hasMessageContaining("expired");
  }

  @Test
  void rejectsLeafInAnotherTrustDomain() {
    TestPki other = TestPki.newRoot(TrustDomain.of("other.example"));
    SvidVerifier both = new SvidVerifier(pki.bundle().with(other.trustDomain(), List.of(other.root())), TD, clock);
    X509Certificate[] chain = other.leaf("a", "b").mint().chainArray();
    assertThatThrownBy(() -> both.verify(chain))
        .isInstanceOfSatisfying(MtlsException.class, e -> assertThat(e.reason()).isEqualTo(Reason.FOREIGN_TRUST_DOMAIN))
        .hasMessageContaining("is in trust domain 'other.example', but this side trusts only 'cluster.local'");
  }

  @Test
  void rejectsSameTrustDomainSignedByAnotherRoot() {
    TestPki impostor = TestPki.newRoot(TD);
    assertReason(impostor.leaf("a", "b").mint(), Reason.UNTRUSTED_CHAIN, "does not lead to a root of trust domain 'cluster.local'");
  }

  @Test
  void rejectsLeafWithoutUriSan() {
    assertReason(pki.leaf().mint(), Reason.NO_URI_SAN, "has no URI SAN");
  }

  @Test
  void rejectsLeafWithSeveralUriSans() {
    assertReason(pki.leaf().uris("spiffe://cluster.local/ns/a/sa/b", "spiffe://cluster.local/ns/a/sa/c").mint(),
        Reason.MULTIPLE_URI_SANS, "has 2 URI SANs");
  }

  @Test
  void rejectsUriSanThatIsNotASpiffeId() {
    assertReason(pki.leaf().uris("https://cluster.local/ns/a").mint(), Reason.INVALID_SPIFFE_ID, "scheme");
  }

  @Test
  void rejectsCaCertificateUsedAsLeaf() {
    assertReason(pki.leaf("a", "b").ca().mint(), Reason.NOT_A_LEAF, "is a CA certificate (CA:true)");
  }

  @Test
  void rejectsLeafWithCertSigningKeyUsage() {
    assertReason(pki.leaf("a", "b").keyUsage(KeyUsage.digitalSignature | KeyUsage.keyCertSign).mint(),
        Reason.NOT_A_LEAF, "keyCertSign");
  }

  @Test
  void rejectsLeafWithoutDigitalSignature() {
    assertReason(pki.leaf("a", "b").keyUsage(KeyUsage.keyEncipherment).mint(), Reason.NOT_A_LEAF, "digitalSignature");
  }

  @Test
  void bundleWithBothRootsAcceptsLeavesOfEitherDuringRotation() {
    TestPki next = TestPki.newRoot(TD);
    TrustBundle rotating = pki.bundle().with(TD, List.of(pki.root(), next.root()));
    SvidVerifier v = new SvidVerifier(rotating, TD, clock);
    assertThat(v.verify(pki.leaf("a", "old").mint().chainArray()).toString()).endsWith("/sa/old");
    assertThat(v.verify(next.leaf("a", "new").mint().chainArray()).toString()).endsWith("/sa/new");
  }

  @Test
  void rejectsEverythingWhenTheBundleHasNoRootForTheTrustDomain() {
    SvidVerifier v = new SvidVerifier(TrustBundle.empty(), TD, clock);
    assertThatThrownBy(() -> v.verify(pki.leaf("a", "b").mint().chainArray()))
        .hasMessageContaining("no trust bundle roots for trust domain 'cluster.local'");
  }

  private void assertReason(TestPki.Minted minted, Reason reason, String message) {
    assertReason(minted.chainArray(), reason, message);
  }

  private void assertReason(X509Certificate[] chain, Reason reason, String message) {
    assertThatThrownBy(() -> verifier.verify(chain))
        .isInstanceOfSatisfying(MtlsException.class, e -> assertThat(e.reason()).isEqualTo(reason))
        .hasMessageContaining(message);
  }
}
