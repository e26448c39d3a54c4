package dev.trellis.ca.csr;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.trellis.ca.CaException;
import dev.trellis.ca.testing.TestCsrs;
import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.svid.Pem;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Fuzzes what a Sign caller controls before the CA signs anything: the CSR and the requested identity. An input that
 * starts with {@code -----} is PEM text as sent; anything else is DER, wrapped in a {@code CERTIFICATE REQUEST} block,
 * so the fuzzer works on the ASN.1 rather than on base64. The validator returns a CSR for exactly the requested
 * identity or throws {@link CaException} — never another exception. The seeds are real CSRs minted per run by the
 * test PKI (P-256, P-384, RSA, and the kinds the CA refuses), as PEM and as DER; they hold public keys only.
 */
class CsrValidatorFuzzTest {

  private static final String ID = "spiffe://cluster.local/ns/shop/sa/web";
  private static final SpiffeId IDENTITY = SpiffeId.parse(ID);
  private static final CsrValidator VALIDATOR = new CsrValidator(TrustDomain.CLUSTER_LOCAL);

  @MethodSource("seeds")
  @FuzzTest
  void csr(byte[] input) {
    String text = new String(input, StandardCharsets.UTF_8);
    String pem = text.startsWith("-----") ? text : Pem.encode("CERTIFICATE REQUEST", input);
    try {
      ValidatedCsr csr = VALIDATOR.validate(pem, IDENTITY);
      assertThat(csr.identity()).isEqualTo(IDENTITY);
      assertThat(csr.keyKind()).isNotNull();
      assertThat(csr.publicKey()).isNotNull();
    } catch (CaException refused) {
      assertThat(refused.getMessage()).isNotBlank();
    }
    try {
      assertThat(VALIDATOR.requestedIdentity(text).trustDomain()).isEqualTo(TrustDomain.CLUSTER_LOCAL);
    } catch (CaException refused) {
      assertThat(refused.getMessage()).isNotBlank();
    }
  }

  static Stream<byte[]> seeds() {
    List<String> pems = List.of(
        TestCsrs.csr(TestCsrs.ec("secp256r1"), ID),
        TestCsrs.csr(TestCsrs.ec("secp384r1"), ID),
        TestCsrs.csr(TestCsrs.rsa(2048), ID),
        TestCsrs.csr(TestCsrs.ec("secp256r1"), ID, "spiffe://cluster.local/ns/shop/sa/admin"),
        TestCsrs.csr(TestCsrs.ec("secp256r1"), "spiffe://other.domain/ns/shop/sa/web"),
        TestCsrs.csr(TestCsrs.ec("secp256r1")),
        TestCsrs.csr(TestCsrs.ed25519(), ID),
        TestCsrs.csr(TestCsrs.ec("secp256r1").getPublic(), TestCsrs.ec("secp256r1"), ID),
        TestCsrs.csrSignedWith("SHA1withECDSA", TestCsrs.ec("secp256r1"), ID));
    return Stream.concat(
        pems.stream().map(p -> p.getBytes(StandardCharsets.US_ASCII)),
        pems.stream().map(p -> Pem.decode(p).getFirst().der()));
  }
}
