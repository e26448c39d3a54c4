package dev.trellis.controlplane.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.ca.CaException;
import dev.trellis.ca.issuer.CertificateAuthority;
import dev.trellis.ca.issuer.IssuancePolicy;
import dev.trellis.ca.issuer.RootGenerator;
import dev.trellis.ca.store.CaMaterial;
import dev.trellis.mtls.identity.TrustDomain;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** The CA root in a Secret, against Fabric8's mock API server in CRUD mode (no real cluster can run here). */
@EnableKubernetesMockClient(crud = true)
class SecretCaStoreTest {

  KubernetesClient client;

  static CaMaterial newRoot(Clock clock) {
    return CaMaterial.of(RootGenerator.newRoot(TrustDomain.CLUSTER_LOCAL, clock.instant(), RootGenerator.DEFAULT_LIFETIME,
        new SecureRandom()));
  }

  @Test
  void aReplicaThatLosesTheCreateRaceGetsTheWinnersRoot() {
    Clock clock = Clock.systemUTC();
    CaMaterial first = newRoot(clock);
    CaMaterial second = newRoot(clock);
    SecretCaStore a = new SecretCaStore(client, "trellis-system", "trellis-ca-root");
    SecretCaStore b = new SecretCaStore(client, "trellis-system", "trellis-ca-root");
    assertThat(a.load()).isEmpty();
    assertThat(a.createIfAbsent(first).activeId()).isEqualTo(first.activeId());
    assertThat(b.createIfAbsent(second).activeId()).as("409 Conflict, then the winner's").isEqualTo(first.activeId());
    CaMaterial loaded = b.load().orElseThrow();
    assertThat(loaded.active().certificate()).isEqualTo(first.active().certificate());
    assertThat(loaded.active().key().getEncoded()).isEqualTo(first.active().key().getEncoded());
  }

  @Test
  void severalReplicasStartingTogetherEndUpWithOneRoot() throws Exception {
    int replicas = 6;
    CyclicBarrier start = new CyclicBarrier(replicas);
    ExecutorService pool = Executors.newFixedThreadPool(replicas);
    List<KubernetesClient> clients = new ArrayList<>();
    try {
      List<Future<X509Certificate>> roots = new ArrayList<>();
      for (int i = 0; i < replicas; i++) {
        KubernetesClient own = new KubernetesClientBuilder().withConfig(client.getConfiguration()).build();
        clients.add(own);
        roots.add(pool.submit(() -> {
          start.await();
          CertificateAuthority ca = CertificateAuthority.openOrCreate(TrustDomain.CLUSTER_LOCAL,
              new SecretCaStore(own, "trellis-system", "trellis-ca-root"), IssuancePolicy.defaults(), Clock.systemUTC());
          assertThat(ca.trustBundle().roots(TrustDomain.CLUSTER_LOCAL)).hasSize(1);
          return ca.trustBundle().roots(TrustDomain.CLUSTER_LOCAL).getFirst();
        }));
      }
      Set<X509Certificate> distinct = new HashSet<>();
      for (Future<X509Certificate> f : roots) {
        distinct.add(f.get());
      }
      assertThat(distinct).hasSize(1);
      assertThat(client.secrets().inNamespace("trellis-system").list().getItems()).hasSize(1);
    } finally {
      pool.shutdownNow();
      clients.forEach(KubernetesClient::close);
    }
  }

  @Test
  void aRotationStepIsPersistedForEveryReplica() {
    Clock clock = Clock.systemUTC();
    SecretCaStore store = new SecretCaStore(client, "trellis-system", "trellis-ca-root");
    CaMaterial material = store.createIfAbsent(newRoot(clock));
    CaMaterial staged = material.withAuthority(newRoot(clock).active());
    store.update(staged);
    CaMaterial seen = new SecretCaStore(client, "trellis-system", "trellis-ca-root").load().orElseThrow();
    assertThat(seen.authorities()).extracting(a -> a.id()).containsExactlyElementsOf(
        staged.authorities().stream().map(a -> a.id()).toList());
    assertThat(seen.activeId()).isEqualTo(material.activeId());
  }

  @Test
  void aCorruptSecretIsReportedWithWhatToDo() {
    client.secrets().inNamespace("trellis-system").resource(new io.fabric8.kubernetes.api.model.SecretBuilder()
        .withNewMetadata().withName("trellis-ca-root").endMetadata()
        .addToData("manifest", java.util.Base64.getEncoder().encodeToString("active abc\nauthority abc\n".getBytes()))
        .build()).create();
    assertThatThrownBy(() -> new SecretCaStore(client, "trellis-system", "trellis-ca-root").load())
        .isInstanceOf(CaException.class).hasMessageContaining("Secret trellis-system/trellis-ca-root has no key 'abc.chain.pem'");
  }
}
