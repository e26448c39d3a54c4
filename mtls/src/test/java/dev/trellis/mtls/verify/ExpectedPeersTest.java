package dev.trellis.mtls.verify;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.mtls.identity.SpiffeId;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ExpectedPeersTest {

  private final SpiffeId a = SpiffeId.parse("spiffe://td/ns/x/sa/a");
  private final SpiffeId b = SpiffeId.parse("spiffe://td/ns/x/sa/b");

  @Test
  void exactlyAcceptsOnlyThatIdentity() {
    assertThat(ExpectedPeers.exactly(a).accepts(a)).isTrue();
    assertThat(ExpectedPeers.exactly(a).accepts(b)).isFalse();
    assertThat(ExpectedPeers.exactly(a)).hasToString("spiffe://td/ns/x/sa/a");
  }

  @Test
  void anyOfAcceptsEachListedIdentity() {
    ExpectedPeers both = ExpectedPeers.anyOf(Set.of(a, b));
    assertThat(both.accepts(a)).isTrue();
    assertThat(both.accepts(b)).isTrue();
    assertThat(both.accepts(SpiffeId.parse("spiffe://td/ns/x/sa/c"))).isFalse();
  }

  @Test
  void anyOfNeedsAtLeastOneIdentity() {
    assertThatThrownBy(() -> ExpectedPeers.anyOf(Set.of())).hasMessageContaining("expected: at least one");
  }

  @Test
  void anyVerifiedAcceptsAll() {
    assertThat(ExpectedPeers.anyVerified().accepts(a)).isTrue();
  }
}
