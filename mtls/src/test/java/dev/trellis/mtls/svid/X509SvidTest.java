package dev.trellis.mtls.svid;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.testing.TestPki;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class X509SvidTest {

  private final TestPki pki = TestPki.newRoot(TrustDomain.CLUSTER_LOCAL);

  @Test
  void exposesIdentityAndRenewsAtHalfLife() {
    Instant nb = Instant.parse("2026-01-01T00:00:00Z");
    TestPki.Minted m = pki.leaf("ns1", "sa1").validity(nb, nb.plus(Duration.ofHours(24))).mint();
    X509Svid svid = X509Svid.of(m.chain(), m.key());
    assertThat(svid.id()).isEqualTo(SpiffeId.parse("spiffe://cluster.local/ns/ns1/sa/sa1"));
    assertThat(svid.renewalTime()).isEqualTo(nb.plus(Duration.ofHours(12)));
  }

  @Test
  void pemRoundTripKeepsChainAndKey() {
    TestPki.Minted m = pki.newIntermediate().leaf("a", "b").mint();
    X509Svid svid = X509Svid.of(m.chain(), m.key());
    X509Svid back = X509Svid.fromPem(svid.chainPem(), svid.privateKeyPem());
    assertThat(back.chain()).isEqualTo(svid.chain()).hasSize(2);
    assertThat(back.privateKey()).isEqualTo(svid.privateKey());
  }

  @Test
  void rejectsKeyOfAnotherPair() {
    TestPki.Minted m = pki.leaf("a", "b").mint();
    assertThatThrownBy(() -> X509Svid.of(m.chain(), TestPki.ecKey().getPrivate()))
        .hasMessageContaining("private key does not belong to the SVID leaf");
  }

  @Test
  void rejectsEmptyChainAndCaLeaf() {
    assertThatThrownBy(() -> X509Svid.of(List.of(), TestPki.ecKey().getPrivate())).hasMessageContaining("chain is empty");
    TestPki.Minted ca = pki.leaf("a", "b").ca().mint();
    assertThatThrownBy(() -> X509Svid.of(ca.chain(), ca.key())).hasMessageContaining("is a CA certificate");
  }
}
