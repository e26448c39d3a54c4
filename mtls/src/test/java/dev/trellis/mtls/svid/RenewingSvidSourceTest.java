package dev.trellis.mtls.svid;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.mtls.MtlsException;
import dev.trellis.mtls.MtlsException.Reason;
import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.testing.ManualClock;
import dev.trellis.mtls.testing.ManualScheduler;
import dev.trellis.mtls.testing.TestPki;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class RenewingSvidSourceTest {

  private static final Instant START = Instant.parse("2026-03-01T00:00:00Z");
  private static final Duration TTL = Duration.ofHours(24);

  private final TestPki pki = TestPki.newRoot(TrustDomain.CLUSTER_LOCAL, START.minus(Duration.ofDays(1)), Duration.ofDays(365));
  private final SpiffeId id = SpiffeId.forWorkload(TrustDomain.CLUSTER_LOCAL, "default", "web");
  private final ManualClock clock = new ManualClock(START);
  private final ManualScheduler scheduler = new ManualScheduler(clock);
  private final FakeFetcher fetcher = new FakeFetcher();
  private final RecordingListener listener = new RecordingListener();
  // No jitter: the schedule is exact.
  private final Backoff backoff = Backoff.exponential(Duration.ofSeconds(1), Duration.ofSeconds(30), 2.0, 0.0, new java.util.Random(0));
  private RenewingSvidSource source;

  @AfterEach
  void closeSource() {
    if (source != null) {
      source.close();
      scheduler.runDue();
    }
  }

  private void start() {
    source = RenewingSvidSource.start(id, fetcher, scheduler, clock, backoff);
    source.addListener(listener);
  }

  @Test
  void fetchesAtStartAndNotifiesListeners() {
    fetcher.succeedNext();
    start();
    scheduler.runDue();
    assertThat(fetcher.requests).containsExactly(id);
    assertThat(source.current()).isPresent();
    assertThat(listener.events).containsExactly("update " + source.current().get().svid().leaf().getSerialNumber());
  }

  @Test
  void renewsAtHalfLifeAndNotAMomentBefore() {
    fetcher.succeedNext();
    fetcher.succeedNext();
    start();
    scheduler.runDue();
    IssuedSvid first = source.current().orElseThrow();

    scheduler.advance(TTL.dividedBy(2).minusSeconds(1));
    assertThat(fetcher.requests).hasSize(1);
    scheduler.advance(Duration.ofSeconds(1));
    assertThat(fetcher.requests).hasSize(2);
    assertThat(source.current().orElseThrow().svid().leaf()).isNotEqualTo(first.svid().leaf());
    assertThat(listener.events).hasSize(2).allMatch(e -> e.startsWith("update"));
  }

  @Test
  void retriesFailedFetchesWithExponentialBackoff() {
    fetcher.failNext();
    fetcher.failNext();
    fetcher.failNext();
    fetcher.succeedNext();
    start();
    scheduler.runDue();
    assertThat(source.current()).isEmpty();
    assertThat(scheduler.pendingDelays()).containsExactly(Duration.ofSeconds(1));
    scheduler.advance(Duration.ofSeconds(1));
    assertThat(scheduler.pendingDelays()).containsExactly(Duration.ofSeconds(2));
    scheduler.advance(Duration.ofSeconds(2));
    assertThat(scheduler.pendingDelays()).containsExactly(Duration.ofSeconds(4));
    scheduler.advance(Duration.ofSeconds(4));
    assertThat(fetcher.requests).hasSize(4);
    assertThat(source.current()).isPresent();
    assertThat(listener.events).containsExactly("failed next=+1s", "failed next=+2s", "failed next=+4s",
        "update " + source.current().get().svid().leaf().getSerialNumber());
  }

  @Test
  void keepsTheValidSvidWhileRenewalFailsThenFailsClosedAtExpiry() {
    fetcher.succeedNext();
    start();
    scheduler.runDue();
    IssuedSvid first = source.current().orElseThrow();
    fetcher.alwaysFail = true;

    scheduler.advance(TTL.dividedBy(2).plusMinutes(30));
    assertThat(source.current()).contains(first);
    assertThat(listener.events).anyMatch(e -> e.startsWith("failed"));

    clock.set(first.svid().notAfter().minusMillis(1));
    scheduler.runDue();
    assertThat(source.current()).contains(first);
    scheduler.advance(Duration.ofMillis(2));
    assertThat(source.current()).isEmpty();
    assertThat(listener.events).contains("unavailable SVID_UNAVAILABLE");

    fetcher.alwaysFail = false;
    fetcher.succeedNext();
    scheduler.advance(Duration.ofSeconds(30));
    assertThat(source.current()).isPresent();
    assertThat(listener.events.getLast()).startsWith("update");
  }

  @Test
  void rejectsAnSvidForAnotherIdentityAsAFailure() {
    fetcher.next.add(() -> CompletableFuture.completedFuture(pki.leaf("default", "someone-else").issue()));
    start();
    scheduler.runDue();
    assertThat(source.current()).isEmpty();
    assertThat(listener.errors).singleElement().satisfies(e ->
        assertThat(e).hasMessageContaining("asked for an SVID for spiffe://cluster.local/ns/default/sa/web but received one for"));
  }

  @Test
  void lateListenerGetsTheCurrentSvidAtOnce() {
    fetcher.succeedNext();
    start();
    scheduler.runDue();
    RecordingListener late = new RecordingListener();
    source.addListener(late);
    scheduler.runDue();
    assertThat(late.events).singleElement().satisfies(e -> assertThat(e).startsWith("update"));
  }

  @Test
  void aThrowingListenerDoesNotStopOthers() {
    fetcher.succeedNext();
    source = RenewingSvidSource.start(id, fetcher, scheduler, clock, backoff);
    source.addListener(update -> {
      throw new IllegalStateException("boom");
    });
    source.addListener(listener);
    scheduler.runDue();
    assertThat(listener.events).hasSize(1);
  }

  @Test
  void closeStopsRenewal() {
    fetcher.succeedNext();
    start();
    scheduler.runDue();
    source.close();
    scheduler.runDue();
    scheduler.advance(TTL.multipliedBy(2));
    assertThat(fetcher.requests).hasSize(1);
    assertThat(scheduler.pendingDelays()).isEmpty();
  }

  private final class FakeFetcher implements SvidFetcher {
    final List<SpiffeId> requests = new ArrayList<>();
    final Deque<java.util.function.Supplier<CompletionStage<IssuedSvid>>> next = new ArrayDeque<>();
    boolean alwaysFail;

    void succeedNext() {
      next.add(() -> CompletableFuture.completedFuture(
          pki.leaf("default", "web").validity(clock.instant().minusSeconds(0), clock.instant().plus(TTL)).issue()));
    }

    void failNext() {
      next.add(() -> CompletableFuture.failedFuture(new IllegalStateException("CA unreachable")));
    }

    @Override
    public CompletionStage<IssuedSvid> fetchSvid(SpiffeId identity) {
      requests.add(identity);
      if (alwaysFail || next.isEmpty()) {
        return CompletableFuture.failedFuture(new IllegalStateException("CA unreachable"));
      }
      return next.poll().get();
    }
  }

  private final class RecordingListener implements SvidListener {
    final List<String> events = new ArrayList<>();
    final List<Throwable> errors = new ArrayList<>();

    @Override
    public void onSvidUpdate(IssuedSvid update) {
      events.add("update " + update.svid().leaf().getSerialNumber());
    }

    @Override
    public void onSvidUnavailable(MtlsException reason) {
      assertThat(reason.reason()).isEqualTo(Reason.SVID_UNAVAILABLE);
      events.add("unavailable " + reason.reason());
    }

    @Override
    public void onRenewalFailed(Throwable error, Instant nextAttempt) {
      errors.add(error);
      events.add("failed next=+" + Duration.between(clock.instant(), nextAttempt).toSeconds() + "s");
    }
  }
}
