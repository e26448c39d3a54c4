package dev.trellis.ca.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.ca.CaException;
import dev.trellis.ca.CaException.Reason;
import dev.trellis.ca.csr.CsrValidator;
import dev.trellis.ca.issuer.CertificateAuthority;
import dev.trellis.ca.issuer.IssuancePolicy;
import dev.trellis.ca.issuer.IssuedChain;
import dev.trellis.ca.testing.TestCsrs;
import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.svid.Pem;
import dev.trellis.mtls.testing.ManualClock;
import dev.trellis.mtls.testing.TestPki;
import dev.trellis.mtls.verify.SvidVerifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PluggedCaFilesTest {

  private static final TrustDomain TD = TrustDomain.CLUSTER_LOCAL;
  private static final SpiffeId ID = SpiffeId.forWorkload(TD, "shop", "web");

  @TempDir
  Path dir;

  private final TestPki root = TestPki.newRoot(TD);
  private final TestPki intermediate = root.newIntermediate();
  private final ManualClock clock = new ManualClock(Instant.now());

  private void write(String name, String content) throws Exception {
    Files.writeString(dir.resolve(name), content);
  }

  private void writeIntermediateLayout(TestPki ca) throws Exception {
    write("ca-cert.pem", Pem.encodeCertificate(ca.signerCertificate()));
    write("ca-key.pem", Pem.encodePrivateKey(ca.signerKey().getPrivate()));
    write("cert-chain.pem", Pem.encodeCertificates(List.of(ca.signerCertificate(), root.root())));
    write("root-cert.pem", Pem.encodeCertificate(root.root()));
  }

  @Test
  void intermediateIsIncludedInEveryIssuedChain() throws Exception {
    writeIntermediateLayout(intermediate);
    CaMaterial material = PluggedCaFiles.load(dir, clock.instant());
    CertificateAuthority ca = CertificateAuthority.plugged(TD, material, IssuancePolicy.defaults(), clock);

    IssuedChain issued = ca.sign(new CsrValidator(TD).validate(TestCsrs.csr(TestCsrs.ec("secp256r1"), ID.toString()), ID),
        Duration.ZERO);
    assertThat(issued.chain()).hasSize(2);
    assertThat(issued.chain().get(1)).isEqualTo(intermediate.signerCertificate());
    assertThat(ca.trustBundle().roots(TD)).containsExactly(root.root());
    assertThat(new SvidVerifier(ca.trustBundle(), TD, clock).verify(issued.chain().toArray(X509Certificate[]::new)))
        .isEqualTo(ID);
  }

  @Test
  void twoLevelsOfIntermediatesChainThroughCertChainPem() throws Exception {
    TestPki second = intermediate.newIntermediate();
    write("ca-cert.pem", Pem.encodeCertificate(second.signerCertificate()));
    write("ca-key.pem", Pem.encodePrivateKey(second.signerKey().getPrivate()));
    write("cert-chain.pem", Pem.encodeCertificate(intermediate.signerCertificate()));
    write("root-cert.pem", Pem.encodeCertificate(root.root()));
    CaMaterial material = PluggedCaFiles.load(dir, clock.instant());
    assertThat(material.active().chain()).containsExactly(second.signerCertificate(), intermediate.signerCertificate(),
        root.root());
    assertThat(material.active().intermediates()).hasSize(2);
  }

  @Test
  void acceptsLegacySec1KeyFiles() throws Exception {
    writeIntermediateLayout(intermediate);
    // SEC1 as 'openssl ecparam -genkey' writes it: curve OID in the [0] parameters field.
    java.security.interfaces.ECPrivateKey ec = (java.security.interfaces.ECPrivateKey) intermediate.signerKey().getPrivate();
    byte[] sec1 = new org.bouncycastle.asn1.sec.ECPrivateKey(256, ec.getS(),
        org.bouncycastle.asn1.x9.X9ObjectIdentifiers.prime256v1).getEncoded();
    write("ca-key.pem", Pem.encode("EC PRIVATE KEY", sec1));
    assertThat(PluggedCaFiles.load(dir, clock.instant()).active().certificate()).isEqualTo(intermediate.signerCertificate());
  }

  @Test
  void aRootCanBePluggedInDirectly() throws Exception {
    write("ca-cert.pem", Pem.encodeCertificate(root.root()));
    write("ca-key.pem", Pem.encodePrivateKey(root.signerKey().getPrivate()));
    write("root-cert.pem", Pem.encodeCertificate(root.root()));
    CaMaterial material = PluggedCaFiles.load(dir, clock.instant());
    assertThat(material.active().chain()).containsExactly(root.root());
    assertThat(material.active().intermediates()).isEmpty();
  }

  @Test
  void rootCertPemWithTwoRootsTrustsBothDuringRotation() throws Exception {
    writeIntermediateLayout(intermediate);
    TestPki next = TestPki.newRoot(TD);
    write("root-cert.pem", Pem.encodeCertificates(List.of(root.root(), next.root())));
    CertificateAuthority ca = CertificateAuthority.plugged(TD, PluggedCaFiles.load(dir, clock.instant()),
        IssuancePolicy.defaults(), clock);
    assertThat(ca.trustBundle().roots(TD)).containsExactly(root.root(), next.root());
  }

  @Test
  void missingKeyFileIsNamed() throws Exception {
    writeIntermediateLayout(intermediate);
    Files.delete(dir.resolve("ca-key.pem"));
    assertInvalid(dir.resolve("ca-key.pem") + " is missing");
  }

  @Test
  void missingCertificateFileListsTheLayout() throws Exception {
    assertInvalid("ca-cert.pem is missing; a plug-in CA directory holds ca-cert.pem, ca-key.pem, root-cert.pem");
  }

  @Test
  void leafCertificateCannotSign() throws Exception {
    writeIntermediateLayout(intermediate);
    TestPki.Minted leaf = intermediate.leaf("a", "b").mint();
    write("ca-cert.pem", Pem.encodeCertificate(leaf.chain().getFirst()));
    write("ca-key.pem", Pem.encodePrivateKey(leaf.key()));
    assertInvalid("is not a CA certificate");
  }

  @Test
  void keyOfAnotherCertificateIsRefused() throws Exception {
    writeIntermediateLayout(intermediate);
    write("ca-key.pem", Pem.encodePrivateKey(TestPki.ecKey().getPrivate()));
    assertInvalid("ca-key.pem does not belong to ca-cert.pem");
  }

  @Test
  void chainThatDoesNotReachTheRootIsRefused() throws Exception {
    writeIntermediateLayout(intermediate);
    write("root-cert.pem", Pem.encodeCertificate(TestPki.newRoot(TD).root()));
    assertInvalid("does not chain to a root in root-cert.pem");
  }

  @Test
  void severalCertificatesInCaCertPemAreRefused() throws Exception {
    writeIntermediateLayout(intermediate);
    write("ca-cert.pem", Pem.encodeCertificates(List.of(intermediate.signerCertificate(), root.root())));
    assertInvalid("holds 2 certificates (expected: exactly one; put intermediates in cert-chain.pem)");
  }

  @Test
  void garbageIsReportedWithTheFileName() throws Exception {
    writeIntermediateLayout(intermediate);
    write("root-cert.pem", "not pem");
    assertInvalid("root-cert.pem no PEM certificate found");
  }

  private void assertInvalid(String message) {
    assertThatThrownBy(() -> PluggedCaFiles.load(dir, clock.instant()))
        .isInstanceOfSatisfying(CaException.class, e -> assertThat(e.reason()).isEqualTo(Reason.INVALID_CA_MATERIAL))
        .hasMessageContaining(message);
  }
}
