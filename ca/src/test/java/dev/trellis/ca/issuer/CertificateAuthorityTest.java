package dev.trellis.ca.issuer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.ca.CaException;
import dev.trellis.ca.CaException.Reason;
import dev.trellis.ca.csr.CsrValidator;
import dev.trellis.ca.csr.ValidatedCsr;
import dev.trellis.ca.store.CaMaterial;
import dev.trellis.ca.store.FileCaStore;
import dev.trellis.ca.store.SigningAuthority;
import dev.trellis.ca.testing.TestCsrs;
import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.testing.ManualClock;
import dev.trellis.mtls.verify.SvidVerifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CertificateAuthorityTest {

  private static final TrustDomain TD = TrustDomain.CLUSTER_LOCAL;
  private static final SpiffeId ID = SpiffeId.forWorkload(TD, "shop", "web");

  @TempDir
  Path dir;

  private final ManualClock clock = new ManualClock(Instant.now());

  private CertificateAuthority open() {
    return CertificateAuthority.openOrCreate(TD, new FileCaStore(dir.resolve("ca")), IssuancePolicy.defaults(), clock);
  }

  private static ValidatedCsr csr() {
    return new CsrValidator(TD).validate(TestCsrs.csr(TestCsrs.ec("secp256r1"), ID.toString()), ID);
  }

  @Test
  void createsARootOnFirstStartAndReusesItAfterRestart() throws Exception {
    CertificateAuthority first = open();
    X509Certificate root = first.activeAuthority().root();
    assertThat(root.getBasicConstraints()).isGreaterThanOrEqualTo(0);
    assertThat(root.getPublicKey().getAlgorithm()).isEqualTo("EC");
    assertThat(first.trustBundle().roots(TD)).containsExactly(root);

    CertificateAuthority restarted = open();
    assertThat(restarted.activeAuthority().root()).isEqualTo(root);
    assertThat(restarted.activeAuthority().key()).isEqualTo(first.activeAuthority().key());

    Path key = dir.resolve("ca/authorities").resolve(first.activeAuthority().id()).resolve("key.pem");
    assertThat(Files.getPosixFilePermissions(key)).containsExactlyInAnyOrder(PosixFilePermission.OWNER_READ,
        PosixFilePermission.OWNER_WRITE);
  }

  @Test
  void replicasRacingAtFirstStartEndUpWithOneRoot() throws Exception {
    int replicas = 8;
    CyclicBarrier barrier = new CyclicBarrier(replicas);
    ExecutorService pool = Executors.newFixedThreadPool(replicas);
    try {
      List<Future<String>> ids = new ArrayList<>();
      for (int i = 0; i < replicas; i++) {
        Callable<String> replica = () -> {
          barrier.await();
          // Each replica has its own store object, as separate processes would.
          return open().activeAuthority().id();
        };
        ids.add(pool.submit(replica));
      }
      Set<String> distinct = new java.util.HashSet<>();
      for (Future<String> f : ids) {
        distinct.add(f.get());
      }
      assertThat(distinct).hasSize(1);
      assertThat(Files.readAllLines(dir.resolve("ca/manifest"))).containsExactly(
          "active " + distinct.iterator().next(), "authority " + distinct.iterator().next());
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void rootRotationStagesActivatesAndRemovesWhileKeepingTrust() throws Exception {
    CertificateAuthority ca = open();
    SigningAuthority old = ca.activeAuthority();
    IssuedChain beforeRotation = ca.sign(csr(), Duration.ZERO);

    SigningAuthority staged = ca.stageNewRoot();
    assertThat(ca.trustBundle().roots(TD)).containsExactly(old.root(), staged.root());
    assertThat(old.certificate().getSubjectX500Principal()).isNotEqualTo(staged.certificate().getSubjectX500Principal());
    ca.sign(csr(), Duration.ZERO).leaf().verify(old.certificate().getPublicKey()); // staged root does not sign yet

    ca.activate(staged.id());
    IssuedChain afterActivation = ca.sign(csr(), Duration.ZERO);
    afterActivation.leaf().verify(staged.certificate().getPublicKey());
    SvidVerifier both = new SvidVerifier(ca.trustBundle(), TD, clock);
    assertThat(both.verify(beforeRotation.chain().toArray(X509Certificate[]::new))).isEqualTo(ID);
    assertThat(both.verify(afterActivation.chain().toArray(X509Certificate[]::new))).isEqualTo(ID);

    assertThatThrownBy(() -> ca.remove(staged.id()))
        .isInstanceOfSatisfying(CaException.class, e -> assertThat(e.reason()).isEqualTo(Reason.INVALID_ROTATION))
        .hasMessageContaining("signs new certificates and cannot be removed");
    ca.remove(old.id());
    assertThat(ca.trustBundle().roots(TD)).containsExactly(staged.root());

    CertificateAuthority restarted = open();
    assertThat(restarted.activeAuthority().id()).isEqualTo(staged.id());
    assertThat(restarted.trustBundle().roots(TD)).containsExactly(staged.root());
    assertThat(restarted.authorities()).extracting(SigningAuthority::id).containsExactly(staged.id());
  }

  @Test
  void rotationStepsNameUnknownAuthorities() {
    CertificateAuthority ca = open();
    assertThatThrownBy(() -> ca.activate("nope")).hasMessageContaining("no signing authority with id 'nope'");
  }

  @Test
  void corruptKeyFileIsReportedWithItsPathAndTheWayOut() throws Exception {
    CertificateAuthority ca = open();
    Path key = dir.resolve("ca/authorities").resolve(ca.activeAuthority().id()).resolve("key.pem");
    Files.writeString(key, "garbage");
    assertThatThrownBy(this::open)
        .isInstanceOfSatisfying(CaException.class, e -> assertThat(e.reason()).isEqualTo(Reason.INVALID_CA_MATERIAL))
        .hasMessageContaining(key.getParent().toString())
        .hasMessageContaining("restore it from backup");
  }

  @Test
  void refusesToStartWithAnExpiredSigningCertificate() {
    CertificateAuthority ca = open();
    clock.set(ca.activeAuthority().certificate().getNotAfter().toInstant().plusSeconds(1));
    assertThatThrownBy(this::open).hasMessageContaining("expired at").hasMessageContaining("stage and activate a new root");
  }

  @Test
  void pluggedCaCannotBeRotatedInPlace() {
    SigningAuthority root = RootGenerator.newRoot(TD, clock.instant(), Duration.ofDays(10), new java.security.SecureRandom());
    CertificateAuthority ca = CertificateAuthority.plugged(TD, CaMaterial.of(root), IssuancePolicy.defaults(), clock);
    assertThatThrownBy(ca::stageNewRoot).hasMessageContaining("replace its files");
  }
}
