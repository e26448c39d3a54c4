package dev.trellis.mtls.svid;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.mtls.MtlsException;
import dev.trellis.mtls.MtlsException.Reason;
import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.testing.TestPki;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import org.junit.jupiter.api.Test;

class PemTest {

  private final TestPki pki = TestPki.newRoot(TrustDomain.CLUSTER_LOCAL);

  @Test
  void certificatesRoundTrip() {
    X509Certificate root = pki.root();
    String pem = Pem.encodeCertificate(root) + "some text between blocks\n" + Pem.encodeCertificate(root);
    assertThat(Pem.decodeCertificates(pem)).containsExactly(root, root);
  }

  @Test
  void privateKeyRoundTrips() {
    KeyPair key = TestPki.ecKey();
    assertThat(Pem.decodePrivateKey(Pem.encodePrivateKey(key.getPrivate()))).isEqualTo(key.getPrivate());
  }

  @Test
  void rejectsTextWithoutCertificates() {
    assertMalformed(() -> Pem.decodeCertificates("hello"), "no PEM certificate found");
  }

  @Test
  void rejectsUnterminatedBlock() {
    assertMalformed(() -> Pem.decodeCertificates("-----BEGIN CERTIFICATE-----\nAAAA\n"),
        "no matching '-----END CERTIFICATE-----' line");
  }

  @Test
  void rejectsBadBase64() {
    assertMalformed(() -> Pem.decodeCertificates("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n"),
        "invalid base64");
  }

  @Test
  void rejectsBytesThatAreNotACertificate() {
    assertMalformed(() -> Pem.decodeCertificates(Pem.encode("CERTIFICATE", new byte[] {1, 2, 3})),
        "PEM block 1 is not a valid X.509 certificate");
  }

  @Test
  void rejectsOtherBlockTypesWhereCertificatesAreExpected() {
    assertMalformed(() -> Pem.decodeCertificates(Pem.encodePrivateKey(TestPki.ecKey().getPrivate())),
        "is a 'PRIVATE KEY', expected 'CERTIFICATE'");
  }

  @Test
  void explainsHowToConvertLegacyKeyFormats() {
    assertMalformed(() -> Pem.decodePrivateKey(Pem.encode("EC PRIVATE KEY", new byte[] {1})), "openssl pkcs8 -topk8");
  }

  private static void assertMalformed(org.assertj.core.api.ThrowableAssert.ThrowingCallable call, String message) {
    assertThatThrownBy(call)
        .isInstanceOfSatisfying(MtlsException.class, e -> assertThat(e.reason()).isEqualTo(Reason.MALFORMED_PEM))
        .hasMessageContaining(message);
  }
}
