package dev.trellis.controlplane.cluster;

import static java.util.Objects.requireNonNull;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderCallbacks;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderElectionConfigBuilder;
import io.fabric8.kubernetes.client.extended.leaderelection.resourcelock.LeaseLock;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Lease-based leadership among control-plane replicas ({@code coordination.k8s.io} Lease in the control plane's
 * namespace). Every replica serves xDS and signs certificates on its own; only the leader writes status (HTTPRoute
 * parents, our CRDs' conditions) and the trust-bundle ConfigMaps, so replicas never fight over them. Losing the
 * Lease stops those writes at once; the elector keeps trying to win it back. Closing releases the Lease, so a
 * rolling update hands over without waiting for it to expire.
 */
public final class Leadership implements BooleanSupplier, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(Leadership.class);
  public static final String DEFAULT_LEASE = "trellis-control-plane-leader";

  /** Lease timings; Kubernetes components use 15 s / 10 s / 2 s. */
  public record Timings(Duration leaseDuration, Duration renewDeadline, Duration retryPeriod) {
    public static Timings defaults() {
      return new Timings(Duration.ofSeconds(15), Duration.ofSeconds(10), Duration.ofSeconds(2));
    }
  }

  private final String identity;
  private volatile boolean leader;
  private volatile String currentLeader;
  private CompletableFuture<?> running;

  private Leadership(String identity) {
    this.identity = identity;
  }

  /**
   * Starts competing for the Lease.
   *
   * @param onGained runs each time this replica becomes the leader (e.g. write the status it held back)
   */
  public static Leadership start(KubernetesClient client, String namespace, String lease, String identity,
      Timings timings, Runnable onGained) {
    requireNonNull(onGained, "onGained");
    Leadership l = new Leadership(requireNonNull(identity, "identity"));
    var config = new LeaderElectionConfigBuilder().withName(lease)
        .withLock(new LeaseLock(requireNonNull(namespace, "namespace"), requireNonNull(lease, "lease"), identity))
        .withLeaseDuration(timings.leaseDuration()).withRenewDeadline(timings.renewDeadline())
        .withRetryPeriod(timings.retryPeriod()).withReleaseOnCancel(true)
        .withLeaderCallbacks(new LeaderCallbacks(() -> {
          l.leader = true;
          log.info("{} leads (Lease {}/{}): writing status and trust bundles", identity, namespace, lease);
          onGained.run();
        }, () -> {
          l.leader = false;
          log.info("{} no longer leads (Lease {}/{})", identity, namespace, lease);
        }, newLeader -> l.currentLeader = newLeader))
        .build();
    l.running = client.leaderElector().withConfig(config).build().start();
    return l;
  }

  /** Whether this replica holds the Lease now. */
  @Override
  public boolean getAsBoolean() {
    return leader;
  }

  public String identity() {
    return identity;
  }

  /** The holder last observed (this replica or another), null before the first observation. */
  public String currentLeader() {
    return currentLeader;
  }

  @Override
  public void close() {
    leader = false;
    if (running != null) {
      running.cancel(true); // releases the Lease (releaseOnCancel)
    }
  }
}
