package dev.trellis.controlplane.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseBuilder;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Lease leadership between replicas, against Fabric8's mock API server in CRUD mode (no real cluster runs here). */
@EnableKubernetesMockClient(crud = true)
class LeadershipTest {

  KubernetesClient client;

  static final Leadership.Timings FAST = new Leadership.Timings(Duration.ofSeconds(2), Duration.ofMillis(1500),
      Duration.ofMillis(200));

  @Test
  void exactlyOneReplicaLeadsAndAnotherTakesOverWhenItStops() {
    AtomicInteger gainedA = new AtomicInteger();
    AtomicInteger gainedB = new AtomicInteger();
    try (KubernetesClient other = new KubernetesClientBuilder().withConfig(client.getConfiguration()).build()) {
      Leadership a = Leadership.start(client, "trellis-system", Leadership.DEFAULT_LEASE, "cp-a", FAST,
          gainedA::incrementAndGet);
      await().atMost(Duration.ofSeconds(10)).until(a::getAsBoolean);
      Leadership b = Leadership.start(other, "trellis-system", Leadership.DEFAULT_LEASE, "cp-b", FAST,
          gainedB::incrementAndGet);
      try {
        await().atMost(Duration.ofSeconds(10)).until(() -> "cp-a".equals(b.currentLeader()));
        assertThat(b.getAsBoolean()).as("the Lease is held by cp-a").isFalse();
        assertThat(gainedA).hasValue(1);
        assertThat(gainedB).hasValue(0);
        var lease = client.leases().inNamespace("trellis-system").withName(Leadership.DEFAULT_LEASE).get();
        assertThat(lease.getSpec().getHolderIdentity()).isEqualTo("cp-a");

        a.close(); // a rolling update: the Lease is released, not left to expire
        await().atMost(Duration.ofSeconds(10)).until(b::getAsBoolean);
        assertThat(a.getAsBoolean()).isFalse();
        assertThat(gainedB).hasValue(1);
      } finally {
        b.close();
      }
    }
  }

  /**
   * A leader killed outright (SIGKILL, node lost) never releases the Lease: another replica takes it once the last
   * renewal is a lease duration old (plus a retry period or two: the elector retries with jitter), not before.
   */
  @Test
  void aLeaderThatStopsRenewingWithoutReleasingIsReplacedOnceItsLeaseRunsOut() {
    ZonedDateTime lastRenewal = ZonedDateTime.now(ZoneOffset.UTC);
    client.leases().inNamespace("trellis-system").resource(new LeaseBuilder().withNewMetadata()
        .withName(Leadership.DEFAULT_LEASE).withNamespace("trellis-system").endMetadata().withNewSpec()
        .withHolderIdentity("cp-killed").withLeaseDurationSeconds((int) FAST.leaseDuration().toSeconds())
        .withAcquireTime(lastRenewal).withRenewTime(lastRenewal).withLeaseTransitions(0).endSpec().build()).create();
    Leadership b = Leadership.start(client, "trellis-system", Leadership.DEFAULT_LEASE, "cp-b", FAST, () -> { });
    try {
      await().atMost(Duration.ofSeconds(10)).until(() -> "cp-killed".equals(b.currentLeader()));
      await().atMost(FAST.leaseDuration().plus(FAST.retryPeriod().multipliedBy(2)).plusSeconds(1)).pollInterval(Duration.ofMillis(20))
          .until(b::getAsBoolean);
      Duration takeover = Duration.between(lastRenewal, ZonedDateTime.now(ZoneOffset.UTC));
      System.out.printf("leader killed: cp-b leads %d ms after the dead leader's last renewal (lease %s)%n",
          takeover.toMillis(), FAST.leaseDuration());
      assertThat(takeover).as("not before the Lease ran out").isGreaterThanOrEqualTo(FAST.leaseDuration());
      assertThat(takeover).isLessThanOrEqualTo(FAST.leaseDuration().plus(FAST.retryPeriod().multipliedBy(2)).plusSeconds(1));
      assertThat(client.leases().inNamespace("trellis-system").withName(Leadership.DEFAULT_LEASE).get().getSpec()
          .getHolderIdentity()).isEqualTo("cp-b");
    } finally {
      b.close();
    }
  }
}
