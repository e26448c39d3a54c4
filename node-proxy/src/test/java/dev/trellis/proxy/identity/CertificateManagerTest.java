package dev.trellis.proxy.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.mtls.MtlsException;
import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.svid.Backoff;
import dev.trellis.mtls.svid.IssuedSvid;
import dev.trellis.mtls.testing.ManualClock;
import dev.trellis.mtls.testing.ManualScheduler;
import dev.trellis.mtls.testing.TestPki;
import dev.trellis.mtls.tls.TlsOptions;
import io.netty.buffer.ByteBufAllocator;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

class CertificateManagerTest {

  private static final TrustDomain TD = TrustDomain.CLUSTER_LOCAL;
  private static final SpiffeId WEB = SpiffeId.forWorkload(TD, "d", "web");
  private static final SpiffeId DB = SpiffeId.forWorkload(TD, "d", "db");

  private final ManualClock clock = new ManualClock(Instant.now());
  private final ManualScheduler scheduler = new ManualScheduler(clock);
  private final TestPki pki = TestPki.newRoot(TD);
  private final List<SpiffeId> requested = new ArrayList<>();

  private CertificateManager manager(Set<SpiffeId> broken) {
    return new CertificateManager(id -> {
      requested.add(id);
      if (broken.contains(id)) {
        return CompletableFuture.failedFuture(new IllegalStateException("CA says no"));
      }
      IssuedSvid svid = pki.leaf(id.namespace().orElseThrow(), id.serviceAccount().orElseThrow())
          .validity(clock.instant().minusSeconds(60), clock.instant().plus(Duration.ofHours(24))).issue();
      return CompletableFuture.completedFuture(svid);
    }, scheduler, clock, TlsOptions.defaults().withAlpn("h2"),
        Backoff.exponential(Duration.ofSeconds(1), Duration.ofSeconds(30), 2, 0, new Random(1)));
  }

  @Test
  void tracksTheIdentitiesOfLocalWorkloads() {
    try (CertificateManager m = manager(Set.of())) {
      m.track(Set.of(WEB, DB));
      scheduler.runDue();
      assertThat(requested).containsExactlyInAnyOrder(WEB, DB);
      assertThat(m.contexts(WEB).orElseThrow().newServerHandler(ByteBufAllocator.DEFAULT)).isNotNull();
      assertThat(m.status()).containsOnlyKeys(DB, WEB).allSatisfy((id, s) -> assertThat(s.ready()).isTrue());

      m.track(Set.of(WEB));
      scheduler.runDue();
      assertThat(m.contexts(DB)).isEmpty();
      assertThat(m.status()).containsOnlyKeys(WEB);
    }
  }

  @Test
  void anIdentityWithoutAnSvidFailsClosedAloneAndKeepsRetrying() {
    try (CertificateManager m = manager(Set.of(DB))) {
      m.track(Set.of(WEB, DB));
      scheduler.runDue();
      assertThat(m.contexts(WEB).orElseThrow().newClientHandler(ByteBufAllocator.DEFAULT)).isNotNull();
      assertThatThrownBy(() -> m.contexts(DB).orElseThrow().newServerHandler(ByteBufAllocator.DEFAULT))
          .isInstanceOfSatisfying(MtlsException.class, e -> assertThat(e.reason()).isEqualTo(MtlsException.Reason.SVID_UNAVAILABLE));
      assertThat(m.status().get(DB).ready()).isFalse();
      scheduler.advance(Duration.ofSeconds(1));
      assertThat(requested.stream().filter(DB::equals)).hasSize(2);
    }
  }

  /**
   * A workload that appears while the CA (the control plane) is away gets its SVID within 4 s of the CA's return,
   * however long the CA was away: the node proxy's retries stay bounded (0.5-3 s, +-30 %) instead of doubling to
   * minutes.
   */
  @Test
  void anSvidMissedDuringATenMinuteCaOutageArrivesWithinFourSecondsOfTheCaReturn() {
    boolean[] caUp = {false};
    try (CertificateManager m = new CertificateManager(id -> {
      requested.add(id);
      if (!caUp[0]) {
        return CompletableFuture.failedFuture(new IllegalStateException("UNAVAILABLE: connection refused"));
      }
      return CompletableFuture.completedFuture(pki.leaf(id.namespace().orElseThrow(),
          id.serviceAccount().orElseThrow()).validity(clock.instant().minusSeconds(60),
          clock.instant().plus(Duration.ofHours(24))).issue());
    }, scheduler, clock, TlsOptions.defaults().withAlpn("h2"), CertificateManager.FETCH_BACKOFF)) {
      m.track(Set.of(WEB));
      scheduler.advance(Duration.ofMinutes(10));
      assertThat(m.status().get(WEB).ready()).isFalse();
      int triedWhileAway = requested.size();

      caUp[0] = true;
      Instant back = clock.instant();
      while (!m.status().get(WEB).ready() && Duration.between(back, clock.instant()).toSeconds() < 600) {
        scheduler.advance(Duration.ofMillis(100));
      }
      assertThat(Duration.between(back, clock.instant())).as("from the CA's return to the SVID")
          .isLessThanOrEqualTo(Duration.ofSeconds(4));
      assertThat(m.status().get(WEB).ready()).isTrue();
      assertThat(triedWhileAway).as("tries while the CA was away (10 min, at most 3.9 s apart)").isGreaterThan(150);
    }
  }
}
