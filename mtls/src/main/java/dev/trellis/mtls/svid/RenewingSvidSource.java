package dev.trellis.mtls.svid;

import static java.util.Objects.requireNonNull;

import dev.trellis.mtls.MtlsException;
import dev.trellis.mtls.MtlsException.Reason;
import dev.trellis.mtls.identity.SpiffeId;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps one identity's SVID fresh: fetches it at start, renews it at half its lifetime, retries a
 * failed fetch with {@link Backoff}, and when the SVID expires without a replacement reports it
 * unavailable (fail closed) while retries continue.
 *
 * <p>All mutable state is confined to {@code executor}, which must run one task at a time (a
 * single-threaded scheduler or an event loop); fetch results are handed back to it. Time comes from
 * the injected clock, so tests drive it with a manual clock and scheduler.
 */
public final class RenewingSvidSource implements SvidSource {

  private static final Logger log = LoggerFactory.getLogger(RenewingSvidSource.class);

  private final SpiffeId identity;
  private final SvidFetcher fetcher;
  private final ScheduledExecutorService executor;
  private final Clock clock;
  private final Backoff backoff;

  private volatile IssuedSvid current;
  private volatile boolean closed;

  // Confined to executor.
  private final List<SvidListener> listeners = new ArrayList<>();
  private int failures;
  private boolean fetching;
  private ScheduledFuture<?> nextFetch;
  private ScheduledFuture<?> expiry;

  private RenewingSvidSource(SpiffeId identity, SvidFetcher fetcher, ScheduledExecutorService executor, Clock clock,
      Backoff backoff) {
    this.identity = requireNonNull(identity, "identity");
    this.fetcher = requireNonNull(fetcher, "fetcher");
    this.executor = requireNonNull(executor, "executor");
    this.clock = requireNonNull(clock, "clock");
    this.backoff = requireNonNull(backoff, "backoff");
  }

  /** Creates the source and starts the first fetch on {@code executor}. */
  public static RenewingSvidSource start(SpiffeId identity, SvidFetcher fetcher, ScheduledExecutorService executor,
      Clock clock, Backoff backoff) {
    RenewingSvidSource source = new RenewingSvidSource(identity, fetcher, executor, clock, backoff);
    executor.execute(source::fetch);
    return source;
  }

  @Override
  public SpiffeId identity() {
    return identity;
  }

  @Override
  public Optional<IssuedSvid> current() {
    return Optional.ofNullable(current);
  }

  @Override
  public void addListener(SvidListener listener) {
    requireNonNull(listener, "listener");
    executor.execute(() -> {
      if (closed) {
        return;
      }
      listeners.add(listener);
      IssuedSvid now = current;
      if (now != null) {
        notify(listener, l -> l.onSvidUpdate(now));
      }
    });
  }

  @Override
  public void removeListener(SvidListener listener) {
    executor.execute(() -> listeners.remove(listener));
  }

  @Override
  public void close() {
    closed = true;
    executor.execute(() -> {
      cancel(nextFetch);
      cancel(expiry);
      listeners.clear();
    });
  }

  private void fetch() {
    if (closed || fetching) {
      return;
    }
    fetching = true;
    CompletionStage<IssuedSvid> stage;
    try {
      stage = fetcher.fetchSvid(identity);
    } catch (RuntimeException e) {
      stage = CompletableFuture.failedFuture(e);
    }
    stage.whenCompleteAsync(this::onFetched, executor);
  }

  private void onFetched(IssuedSvid update, Throwable error) {
    fetching = false;
    if (closed) {
      return;
    }
    Throwable problem = error != null ? error : problemWith(update);
    if (problem != null) {
      onFailure(problem);
      return;
    }
    int failed = failures;
    failures = 0;
    current = update;
    log.info("SVID for {} issued: serial {}, valid until {}, renewal at {}{}", identity,
        update.svid().leaf().getSerialNumber().toString(16), update.svid().notAfter(), update.svid().renewalTime(),
        failed > 0 ? " (after " + failed + " failed attempt(s))" : "");
    for (SvidListener l : List.copyOf(listeners)) {
      notify(l, x -> x.onSvidUpdate(update));
    }
    scheduleFetch(Duration.between(clock.instant(), update.svid().renewalTime()));
    cancel(expiry);
    expiry = executor.schedule(() -> expire(update), millisUntil(update.svid().notAfter()), TimeUnit.MILLISECONDS);
  }

  private Throwable problemWith(IssuedSvid update) {
    if (update == null) {
      return new MtlsException(Reason.INVALID_SVID, "fetcher returned no SVID for " + identity);
    }
    if (!update.svid().id().equals(identity)) {
      return new MtlsException(Reason.INVALID_SVID,
          "asked for an SVID for " + identity + " but received one for " + update.svid().id());
    }
    if (!clock.instant().isBefore(update.svid().notAfter())) {
      return new MtlsException(Reason.EXPIRED, "received SVID for " + identity + " already expired at "
          + update.svid().notAfter() + " (check the clocks of this node and the CA)");
    }
    return null;
  }

  private void onFailure(Throwable error) {
    failures++;
    Duration delay = backoff.delay(failures);
    Instant next = clock.instant().plus(delay);
    if (Backoff.worthAWarning(failures)) {
      log.warn("SVID fetch for {} failed (attempt {}), retrying at {}: {}{}", identity, failures, next, describe(error),
          failures == Backoff.LOUD_ATTEMPTS ? " (from now on every " + Backoff.QUIET_EVERY + "th failure is logged)" : "");
    } else {
      log.debug("SVID fetch for {} failed (attempt {}), retrying at {}: {}", identity, failures, next, describe(error));
    }
    for (SvidListener l : List.copyOf(listeners)) {
      notify(l, x -> x.onRenewalFailed(error, next));
    }
    scheduleFetch(delay);
  }

  private void expire(IssuedSvid expired) {
    if (closed || current != expired) {
      return;
    }
    current = null;
    MtlsException reason = new MtlsException(Reason.SVID_UNAVAILABLE, "SVID for " + identity + " expired at "
        + expired.svid().notAfter() + " and could not be renewed; connections for this workload fail until the CA "
        + "is reachable again");
    log.error("{}", reason.getMessage());
    for (SvidListener l : List.copyOf(listeners)) {
      notify(l, x -> x.onSvidUnavailable(reason));
    }
  }

  private void scheduleFetch(Duration delay) {
    cancel(nextFetch);
    long millis = Math.max(0, delay.toMillis());
    nextFetch = executor.schedule(this::fetch, millis, TimeUnit.MILLISECONDS);
  }

  private long millisUntil(Instant at) {
    return Math.max(0, Duration.between(clock.instant(), at).toMillis());
  }

  private static void cancel(ScheduledFuture<?> future) {
    if (future != null) {
      future.cancel(false);
    }
  }

  private void notify(SvidListener listener, Consumer<SvidListener> call) {
    try {
      call.accept(listener);
    } catch (RuntimeException e) {
      log.error("SVID listener {} for {} failed", listener, identity, e);
    }
  }

  private static String describe(Throwable error) {
    Throwable t = error instanceof CompletionException && error.getCause() != null
        ? error.getCause() : error;
    return t.getClass().getSimpleName() + ": " + t.getMessage();
  }
}
