package dev.trellis.ca.csr;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.ca.CaException;
import dev.trellis.ca.CaException.Reason;
import dev.trellis.ca.csr.KeyPolicy.KeyKind;
import dev.trellis.ca.testing.TestCsrs;
import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.svid.Pem;
import java.security.KeyPair;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;

class CsrValidatorTest {

  private static final String ID = "spiffe://cluster.local/ns/shop/sa/web";
  private static final SpiffeId IDENTITY = SpiffeId.parse(ID);
  private final CsrValidator validator = new CsrValidator(TrustDomain.CLUSTER_LOCAL);
  private final KeyPair key = TestCsrs.ec("secp256r1");

  @Test
  void acceptsP256CsrWithTheRequestedIdentity() {
    ValidatedCsr csr = validator.validate(CsrBuilder.csrPem(IDENTITY, key), IDENTITY);
    assertThat(csr.identity()).isEqualTo(IDENTITY);
    assertThat(csr.publicKey()).isEqualTo(key.getPublic());
    assertThat(csr.keyKind()).isEqualTo(KeyKind.EC_P256);
  }

  @Test
  void acceptsP384AndRsa2048() {
    assertThat(validator.validate(TestCsrs.csr(TestCsrs.ec("secp384r1"), ID), IDENTITY).keyKind()).isEqualTo(KeyKind.EC_P384);
    assertThat(validator.validate(TestCsrs.csr(TestCsrs.rsa(2048), ID), IDENTITY).keyKind()).isEqualTo(KeyKind.RSA);
  }

  @Test
  void rejectsEmptyPem() {
    assertReason(() -> validator.validate("", IDENTITY), Reason.MALFORMED_PEM, "csr_pem is empty");
  }

  @Test
  void rejectsPemOver64KiB() {
    String huge = "x".repeat(64 * 1024 + 1);
    assertReason(() -> validator.validate(huge, IDENTITY), Reason.PEM_TOO_LARGE, "is 65537 bytes (expected: at most 65536)");
  }

  @Test
  void rejectsTextThatIsNotPem() {
    assertReason(() -> validator.validate("hello", IDENTITY), Reason.MALFORMED_PEM, "holds 0 PEM blocks");
  }

  @Test
  void rejectsBrokenBase64() {
    assertReason(() -> validator.validate("-----BEGIN CERTIFICATE REQUEST-----\n%%%\n-----END CERTIFICATE REQUEST-----",
        IDENTITY), Reason.MALFORMED_PEM, "invalid base64");
  }

  @Test
  void rejectsOtherBlockTypes() {
    assertReason(() -> validator.validate(Pem.encode("CERTIFICATE", new byte[] {1}), IDENTITY), Reason.MALFORMED_PEM,
        "holds a 'CERTIFICATE' block");
  }

  @Test
  void rejectsTwoCsrs() {
    String one = CsrBuilder.csrPem(IDENTITY, key);
    assertReason(() -> validator.validate(one + one, IDENTITY), Reason.MALFORMED_PEM, "holds 2 PEM blocks");
  }

  @Test
  void rejectsDerThatIsNotPkcs10() {
    assertReason(() -> validator.validate(Pem.encode("CERTIFICATE REQUEST", new byte[] {0x30, 0x03, 1, 2, 3}), IDENTITY),
        Reason.MALFORMED_CSR, "not a valid PKCS#10 request");
  }

  @Test
  void rejectsCsrWhoseSignatureDoesNotVerify() {
    KeyPair other = TestCsrs.ec("secp256r1");
    assertReason(() -> validator.validate(TestCsrs.csr(key.getPublic(), other, ID), IDENTITY),
        Reason.CSR_SIGNATURE_INVALID, "signature does not verify");
  }

  @Test
  void rejectsCsrWithATamperedBody() {
    // Flip one byte inside the signed body (the subject's CN) and keep the original signature.
    String pem = TestCsrs.csr(key, ID);
    byte[] der = Pem.decode(pem).getFirst().der();
    int at = indexOf(der, "test".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    der[at] ^= 0x01;
    assertReason(() -> validator.validate(Pem.encode("CERTIFICATE REQUEST", der), IDENTITY),
        Reason.CSR_SIGNATURE_INVALID, "signature does not verify");
  }

  @Test
  void rejectsUnusualSignatureAlgorithms() {
    KeyPair rsa = TestCsrs.rsa(2048);
    assertReason(() -> validator.validate(TestCsrs.csrSignedWith("SHA1withRSA", rsa, ID), IDENTITY),
        Reason.CSR_SIGNATURE_INVALID, "CSR signature algorithm 1.2.840.113549.1.1.5 is not supported");
  }

  private static int indexOf(byte[] haystack, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= haystack.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    throw new AssertionError("not found");
  }

  @Test
  void rejectsCsrWithoutUriSan() {
    assertReason(() -> validator.validate(TestCsrs.csr(key), IDENTITY), Reason.NO_URI_SAN, "CSR has no URI SAN");
  }

  @Test
  void rejectsCsrWithSeveralUriSans() {
    assertReason(() -> validator.validate(TestCsrs.csr(key, ID, "spiffe://cluster.local/ns/shop/sa/admin"), IDENTITY),
        Reason.MULTIPLE_URI_SANS, "CSR has 2 URI SANs");
  }

  @Test
  void rejectsNonSpiffeUriSan() {
    assertReason(() -> validator.validate(TestCsrs.csr(key, "https://example.com/web"), IDENTITY),
        Reason.INVALID_SPIFFE_ID, "CSR URI SAN: invalid SPIFFE ID 'https://example.com/web'");
  }

  @Test
  void rejectsSanInAnotherTrustDomain() {
    assertReason(() -> validator.validate(TestCsrs.csr(key, "spiffe://evil.example/ns/shop/sa/web"), IDENTITY),
        Reason.FOREIGN_TRUST_DOMAIN, "CSR URI SAN spiffe://evil.example/ns/shop/sa/web is in trust domain 'evil.example'");
  }

  @Test
  void rejectsSanDifferentFromTheRequestedIdentity() {
    assertReason(() -> validator.validate(TestCsrs.csr(key, "spiffe://cluster.local/ns/shop/sa/admin"), IDENTITY),
        Reason.IDENTITY_MISMATCH, "differs from the requested identity " + ID);
  }

  @Test
  void rejectsRsaBelow2048Bits() {
    assertReason(() -> validator.validate(TestCsrs.csr(TestCsrs.rsa(1024), ID), IDENTITY), Reason.WEAK_KEY,
        "RSA key has 1024 bits (expected: at least 2048");
  }

  @Test
  void rejectsCurvesOtherThanP256AndP384() {
    assertReason(() -> validator.validate(TestCsrs.csr(TestCsrs.ec("secp521r1"), ID), IDENTITY), Reason.WEAK_KEY,
        "curve secp521r1");
  }

  @Test
  void rejectsEd25519() {
    assertReason(() -> validator.validate(TestCsrs.csr(TestCsrs.ed25519(), ID), IDENTITY), Reason.WEAK_KEY,
        "key algorithm 1.3.101.112 is not supported");
  }

  @Test
  void requestedIdentityMustBePresentValidAndInTheTrustDomain() {
    assertReason(() -> validator.requestedIdentity(""), Reason.INVALID_REQUEST, "identity is empty");
    assertReason(() -> validator.requestedIdentity("spiffe://cluster.local/ns//sa/x"), Reason.INVALID_SPIFFE_ID,
        "identity: invalid SPIFFE ID");
    assertReason(() -> validator.requestedIdentity("spiffe://other/ns/a/sa/b"), Reason.FOREIGN_TRUST_DOMAIN,
        "this CA signs only for 'cluster.local'");
    assertThat(validator.requestedIdentity(ID)).isEqualTo(IDENTITY);
  }

  private static void assertReason(ThrowingCallable call, Reason reason, String message) {
    assertThatThrownBy(call)
        .isInstanceOfSatisfying(CaException.class, e -> assertThat(e.reason()).isEqualTo(reason))
        .hasMessageContaining(message);
  }
}
