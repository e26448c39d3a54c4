package dev.trellis.proxy.identity;

import static java.util.Objects.requireNonNull;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.svid.Backoff;
import dev.trellis.mtls.svid.IssuedSvid;
import dev.trellis.mtls.svid.RenewingSvidSource;
import dev.trellis.mtls.svid.SvidFetcher;
import dev.trellis.mtls.tls.RotatingTlsContexts;
import dev.trellis.mtls.tls.TlsOptions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.random.RandomGenerator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The SVIDs of the workload identities on this node: one renewing source (key generated here, CSR
 * to the CA, renewal at half life, backoff on failure) and one set of rotating TLS contexts per
 * identity. Identities follow the local workloads: {@link #track} starts new ones and stops those no
 * workload uses any more. An identity without a valid SVID fails closed for its workloads only.
 */
public final class CertificateManager implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(CertificateManager.class);

  /** The state of one identity for {@code /config_dump}. */
  public record IdentityStatus(SpiffeId identity, boolean ready, Instant notAfter, String serial) {}

  private record Managed(RenewingSvidSource source, RotatingTlsContexts contexts) {}

  /**
   * How the node proxy retries a failed SVID fetch: 0.5 s doubling to 3 s, +-30 %, like the ADS reconnect. Bounded so
   * that an identity whose fetch failed while the control plane was away (killed, restarting) gets its SVID within
   * about 4 s of its return, however long it was away; a failed call to an absent CA costs next to nothing.
   */
  public static final Backoff FETCH_BACKOFF =
      Backoff.exponential(Duration.ofMillis(500), Duration.ofSeconds(3), 2.0, 0.3, RandomGenerator.getDefault());

  private final SvidFetcher fetcher;
  private final ScheduledExecutorService executor;
  private final Clock clock;
  private final TlsOptions options;
  private final Backoff backoff;
  private final Map<SpiffeId, Managed> managed = new ConcurrentHashMap<>();

  /**
   * @param executor single-threaded: all renewal state of every identity runs there
   */
  public CertificateManager(SvidFetcher fetcher, ScheduledExecutorService executor, Clock clock, TlsOptions options,
      Backoff backoff) {
    this.fetcher = requireNonNull(fetcher, "fetcher");
    this.executor = requireNonNull(executor, "executor");
    this.clock = requireNonNull(clock, "clock");
    this.options = requireNonNull(options, "options");
    this.backoff = requireNonNull(backoff, "backoff");
  }

  /** Makes the managed identities exactly {@code identities}. */
  public synchronized void track(Set<SpiffeId> identities) {
    for (SpiffeId id : identities) {
      managed.computeIfAbsent(id, this::start);
    }
    for (SpiffeId id : new HashSet<>(managed.keySet())) {
      if (!identities.contains(id)) {
        Managed m = managed.remove(id);
        m.source().close();
        log.info("stopped managing SVID of {} (no local workload uses it)", id);
      }
    }
  }

  private Managed start(SpiffeId id) {
    RotatingTlsContexts contexts = new RotatingTlsContexts(id, options, clock);
    RenewingSvidSource source = RenewingSvidSource.start(id, fetcher, executor, clock, backoff);
    source.addListener(contexts);
    log.info("managing SVID of {}", id);
    return new Managed(source, contexts);
  }

  /** The TLS contexts of {@code identity}, or empty if no local workload has it. */
  public Optional<RotatingTlsContexts> contexts(SpiffeId identity) {
    Managed m = managed.get(identity);
    return m == null ? Optional.empty() : Optional.of(m.contexts());
  }

  public Optional<IssuedSvid> current(SpiffeId identity) {
    Managed m = managed.get(identity);
    return m == null ? Optional.empty() : m.source().current();
  }

  public Map<SpiffeId, IdentityStatus> status() {
    Map<SpiffeId, IdentityStatus> out = new TreeMap<>();
    managed.forEach((id, m) -> {
      Optional<IssuedSvid> svid = m.source().current();
      // Ready means usable: the SVID arrived and the TLS contexts were built from it.
      out.put(id, new IdentityStatus(id, svid.isPresent() && m.contexts().ready(), svid.map(s -> s.svid().notAfter()).orElse(null),
          svid.map(s -> s.svid().leaf().getSerialNumber().toString(16)).orElse(null)));
    });
    return out;
  }

  @Override
  public synchronized void close() {
    managed.values().forEach(m -> m.source().close());
    managed.clear();
  }
}
