package dev.trellis.mtls.svid;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.testing.TestPki;
import java.util.List;
import org.junit.jupiter.api.Test;

class TrustBundleTest {

  private final TrustDomain td = TrustDomain.CLUSTER_LOCAL;
  private final TestPki a = TestPki.newRoot(td);
  private final TestPki b = TestPki.newRoot(td);

  @Test
  void holdsSeveralRootsPerTrustDomainWithoutDuplicates() {
    TrustBundle bundle = TrustBundle.of(td, List.of(a.root(), b.root(), a.root()));
    assertThat(bundle.roots(td)).containsExactly(a.root(), b.root());
    assertThat(bundle.roots(TrustDomain.of("other"))).isEmpty();
  }

  @Test
  void pemRoundTrip() {
    TrustBundle bundle = TrustBundle.of(td, List.of(a.root(), b.root()));
    assertThat(TrustBundle.fromPem(td, bundle.toPem(td))).isEqualTo(bundle);
  }

  @Test
  void rejectsEmptyRootsAndNonCaCertificates() {
    assertThatThrownBy(() -> TrustBundle.of(td, List.of())).hasMessageContaining("has no roots");
    assertThatThrownBy(() -> TrustBundle.of(td, List.of(a.leaf("x", "y").mint().chain().getFirst())))
        .hasMessageContaining("is not a CA certificate");
  }

  @Test
  void withReplacesOneTrustDomainOnly() {
    TrustDomain other = TrustDomain.of("other");
    TestPki o = TestPki.newRoot(other);
    TrustBundle bundle = TrustBundle.of(td, List.of(a.root())).with(other, List.of(o.root())).with(td, List.of(b.root()));
    assertThat(bundle.roots(td)).containsExactly(b.root());
    assertThat(bundle.roots(other)).containsExactly(o.root());
    assertThat(bundle.trustDomains()).containsExactly(td, other);
  }
}
