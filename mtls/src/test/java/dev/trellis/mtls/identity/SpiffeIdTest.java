package dev.trellis.mtls.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.mtls.MtlsException;
import dev.trellis.mtls.MtlsException.Reason;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class SpiffeIdTest {

  @ParameterizedTest
  @ValueSource(strings = {
      "spiffe://cluster.local/ns/default/sa/web",
      "spiffe://example.org",
      "spiffe://a_b-c.1/x",
      "spiffe://td/Path.With-Mixed_Case/0",
  })
  void parsesValidIdsAndPrintsThemBack(String id) {
    assertThat(SpiffeId.parse(id).toString()).isEqualTo(id);
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(delimiter = '|', value = {
      "''                                    | is empty",
      "http://cluster.local/ns/a             | scheme is missing or not 'spiffe'",
      "SPIFFE://cluster.local/ns/a           | scheme must be lowercase",
      "spiffe:/cluster.local                 | must be followed by '://'",
      "spiffe://                             | trust domain is missing",
      "spiffe:///ns/a                        | trust domain is missing",
      "spiffe://Cluster.local/ns/a           | trust domains are lowercase",
      "spiffe://cluster.local:8080/ns/a      | a port is not allowed",
      "spiffe://user@cluster.local/ns/a      | userinfo is not allowed",
      "spiffe://cluster.local/ns/a?x=1       | a query ('?') is not allowed",
      "spiffe://cluster.local/ns/a#frag      | a fragment ('#') is not allowed",
      "spiffe://cluster.local/ns//a          | empty segment",
      "spiffe://cluster.local/ns/a/          | must not end with '/'",
      "spiffe://cluster.local/               | must not end with '/'",
      "spiffe://cluster.local/ns/./a         | segment '.' is not allowed",
      "spiffe://cluster.local/ns/../a        | segment '..' is not allowed",
      "spiffe://cluster.local/ns/a%20b       | percent-encoding is not allowed",
      "spiffe://cluster.local/ns/a b         | character ' ' which is not allowed",
  })
  void rejectsInvalidIdsSayingWhatIsWrong(String id, String problem) {
    assertThatThrownBy(() -> SpiffeId.parse(id))
        .isInstanceOfSatisfying(MtlsException.class, e -> assertThat(e.reason()).isEqualTo(Reason.INVALID_SPIFFE_ID))
        .hasMessageContaining(problem);
  }

  @Test
  void segmentsThatOnlyStartWithDotsAreAllowed() {
    assertThat(SpiffeId.parse("spiffe://td/.a/..b/.../a.").path()).isEqualTo("/.a/..b/.../a.");
    assertThat(SpiffeId.of(TrustDomain.of("td"), ".a", "..b", "...").path()).isEqualTo("/.a/..b/...");
    assertThatThrownBy(() -> SpiffeId.of(TrustDomain.of("td"), "ns", "..")).hasMessageContaining("segment '..' is not allowed");
    assertThatThrownBy(() -> SpiffeId.of(TrustDomain.of("td"), "ns", "a%b")).hasMessageContaining("segment 'a%b' has character '%'");
    assertThatThrownBy(() -> SpiffeId.of(TrustDomain.of("td"), "p".repeat(2048))).hasMessageContaining("longer than 2048 bytes");
  }

  @Test
  void rejectsNull() {
    assertThatThrownBy(() -> SpiffeId.parse(null)).hasMessageContaining("is empty");
  }

  @Test
  void enforcesLengthLimits() {
    String longDomain = "a".repeat(256);
    assertThatThrownBy(() -> SpiffeId.parse("spiffe://" + longDomain))
        .hasMessageContaining("is 256 characters long (expected: at most 255)");
    assertThat(SpiffeId.parse("spiffe://" + "a".repeat(255)).trustDomain().name()).hasSize(255);

    String path = "/" + "p".repeat(2048 - "spiffe://td/".length());
    assertThat(SpiffeId.parse("spiffe://td" + path).toString()).hasSize(2048);
    assertThatThrownBy(() -> SpiffeId.parse("spiffe://td" + path + "p")).hasMessageContaining("longer than 2048 bytes");
  }

  @Test
  void messagesEscapeControlCharactersAndCapLength() {
    assertThatThrownBy(() -> SpiffeId.parse("spiffe://td/a\nb" + "x".repeat(500)))
        .hasMessageContaining("\\x0a")
        .hasMessageNotContaining("\n")
        .satisfies(e -> assertThat(e.getMessage().length()).isLessThan(400));
  }

  @Test
  void workloadIdentityExposesNamespaceAndServiceAccount() {
    SpiffeId id = SpiffeId.forWorkload(TrustDomain.CLUSTER_LOCAL, "shop", "checkout");
    assertThat(id.toString()).isEqualTo("spiffe://cluster.local/ns/shop/sa/checkout");
    assertThat(id.namespace()).contains("shop");
    assertThat(id.serviceAccount()).contains("checkout");
    assertThat(SpiffeId.parse("spiffe://td/other/path").namespace()).isEmpty();
  }

  @Test
  void segmentsAreValidatedWhenBuilding() {
    assertThatThrownBy(() -> SpiffeId.forWorkload(TrustDomain.CLUSTER_LOCAL, "a/b", "sa"))
        .hasMessageContaining("must not be null or contain '/'");
    assertThatThrownBy(() -> SpiffeId.forWorkload(TrustDomain.CLUSTER_LOCAL, "", "sa"))
        .hasMessageContaining("empty segment");
    assertThatThrownBy(() -> SpiffeId.forWorkload(TrustDomain.CLUSTER_LOCAL, "ns", "s@"))
        .hasMessageContaining("character '@'");
  }

  @Test
  void equalityIsByValue() {
    assertThat(SpiffeId.parse("spiffe://td/a")).isEqualTo(SpiffeId.of(TrustDomain.of("td"), "a"))
        .hasSameHashCodeAs(SpiffeId.parse("spiffe://td/a"));
    assertThat(SpiffeId.parse("spiffe://td/a")).isNotEqualTo(SpiffeId.parse("spiffe://td/A"));
  }

  @Test
  void trustDomainValidation() {
    assertThat(TrustDomain.of("cluster.local").idString()).isEqualTo("spiffe://cluster.local");
    assertThatThrownBy(() -> TrustDomain.of("")).hasMessageContaining("is empty");
    assertThatThrownBy(() -> TrustDomain.of("a/b")).hasMessageContaining("character '/' at index 1");
  }
}
