package dev.trellis.controlplane.discovery;

import static java.util.Objects.requireNonNull;

import dev.trellis.ca.CaException;
import dev.trellis.ca.CaException.Reason;
import dev.trellis.ca.server.Caller;
import dev.trellis.ca.server.CallerAuthenticator;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.authentication.TokenReview;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.LongAdder;

/**
 * Authenticates node proxies in a cluster, as istiod and ztunnel do: the caller's projected service-account
 * token (audience {@value #AUDIENCE}) is checked by the API server's TokenReview; the token must belong to
 * one of the trusted node-proxy service accounts; it must be bound to a pod (the kubelet's projected tokens
 * are), and that pod must still exist with the same UID. The caller's node is that pod's node — never
 * something the caller says. Node authorization ({@code NodeAuthorizer}) then limits it to identities of
 * workloads on that node.
 *
 * <p>Callers cannot make it call the API server at will: a string that is not a well-formed, unexpired token for
 * {@value #AUDIENCE} is refused locally ({@link ServiceAccountJwt}); answers are kept by the token's SHA-256
 * ({@link ReviewCache}: an accepted token until its expiry, at most {@link Settings#maxCacheTime()}, a refused one
 * for {@link Settings#refusalCacheTime()}); concurrent calls with one token share one review; reviews run on a
 * bounded executor ({@link Settings#reviewThreads()} threads, {@link Settings#reviewQueue()} waiting) and each peer
 * address may start at most {@link Settings#reviewsPerSecondPerPeer()} per second (bursts of
 * {@link Settings#reviewBurstPerPeer()}). Overload answers {@code UNAVAILABLE}, a peer over its rate
 * {@code RESOURCE_EXHAUSTED}, both saying to retry. Blocks the calling gRPC thread until the review answers.
 */
public final class TokenReviewAuthenticator implements CallerAuthenticator, AutoCloseable {

  public static final String AUDIENCE = "trellis-ca";
  static final String POD_NAME = "authentication.kubernetes.io/pod-name";
  static final String POD_UID = "authentication.kubernetes.io/pod-uid";
  private static final String SA_PREFIX = "system:serviceaccount:";

  /**
   * How much reviewing a cluster's callers may cost.
   *
   * @param maxCacheTime longest an accepted token is trusted without a new review (also bounds how long a deleted
   *     node-proxy pod's token keeps working)
   * @param refusalCacheTime how long a refused token is refused without a new review
   */
  public record Settings(Duration maxCacheTime, Duration refusalCacheTime, int maxCachedAccepted, int maxCachedRefused,
      int reviewThreads, int reviewQueue, double reviewsPerSecondPerPeer, int reviewBurstPerPeer, Duration reviewTimeout) {

    /** 1 min / 10 s cache times, 10,000 + 2,000 cached answers, 4 threads and 64 waiting, 5 reviews/s per peer (burst 20). */
    public static Settings defaults() {
      return new Settings(Duration.ofMinutes(1), Duration.ofSeconds(10), 10_000, 2_000, 4, 64, 5, 20,
          Duration.ofSeconds(10));
    }
  }

  private final KubernetesClient client;
  private final Set<String> trustedServiceAccounts;
  private final Settings settings;
  private final Clock clock;
  private final ReviewCache cache;
  private final PeerRateLimiter rate;
  private final ThreadPoolExecutor reviewers;
  private final Map<String, CompletableFuture<Caller>> inFlight = new ConcurrentHashMap<>();
  private final LongAdder reviews = new LongAdder();

  /** @param trustedServiceAccounts the node proxies' service accounts as {@code namespace/name} */
  public TokenReviewAuthenticator(KubernetesClient client, Set<String> trustedServiceAccounts) {
    this(client, trustedServiceAccounts, Settings.defaults(), Clock.systemUTC());
  }

  public TokenReviewAuthenticator(KubernetesClient client, Set<String> trustedServiceAccounts, Settings settings,
      Clock clock) {
    this.client = requireNonNull(client, "client");
    this.trustedServiceAccounts = Set.copyOf(trustedServiceAccounts);
    this.settings = requireNonNull(settings, "settings");
    this.clock = requireNonNull(clock, "clock");
    this.cache = new ReviewCache(settings.maxCachedAccepted(), settings.maxCachedRefused());
    this.rate = new PeerRateLimiter(settings.reviewsPerSecondPerPeer(), settings.reviewBurstPerPeer(), 4096, clock);
    this.reviewers = new ThreadPoolExecutor(settings.reviewThreads(), settings.reviewThreads(), 30, TimeUnit.SECONDS,
        new ArrayBlockingQueue<>(settings.reviewQueue()),
        Thread.ofPlatform().name("trellis-tokenreview-", 0).daemon().factory(), new ThreadPoolExecutor.AbortPolicy());
    this.reviewers.allowCoreThreadTimeOut(true);
  }

  /** Reviews running or waiting for a thread. */
  int reviewsInFlight() {
    return inFlight.size();
  }

  /** TokenReviews sent to the API server since start. */
  public long reviews() {
    return reviews.sum();
  }

  @Override
  public Caller authenticate(String bearerToken) {
    return authenticate(bearerToken, null);
  }

  @Override
  public Caller authenticate(String bearerToken, SocketAddress peer) {
    Instant now = clock.instant();
    if (bearerToken.length() > ServiceAccountJwt.MAX_LENGTH) {
      throw new CaException(Reason.UNAUTHENTICATED, "the bearer token has " + bearerToken.length() + " characters, more "
          + "than a service-account token (at most " + ServiceAccountJwt.MAX_LENGTH + ")");
    }
    String digest = digest(bearerToken);
    Caller known = cache.findAccepted(digest, now);
    if (known != null) {
      return known;
    }
    CaException refused = cache.findRefused(digest, now);
    if (refused != null) {
      throw new CaException(refused.reason(), refused.getMessage());
    }
    ServiceAccountJwt.Shape shape;
    try {
      shape = ServiceAccountJwt.check(bearerToken, AUDIENCE, now);
    } catch (ServiceAccountJwt.NotAToken e) {
      throw new CaException(Reason.UNAUTHENTICATED, e.getMessage());
    }
    CompletableFuture<Caller> review = inFlight.get(digest);
    if (review == null) {
      String from = peerKey(peer);
      if (!rate.tryAcquire(from)) {
        throw new CaException(Reason.RATE_LIMITED, "too many token reviews from " + from + " (more than "
            + rate.perSecond() + " per second); retry later");
      }
      review = startReview(digest, bearerToken, shape);
    }
    try {
      return review.get(settings.reviewTimeout().toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof CaException ca) {
        throw new CaException(ca.reason(), ca.getMessage());
      }
      throw new CaException(Reason.AUTHENTICATION_UNAVAILABLE, "the token review failed: " + e.getCause());
    } catch (TimeoutException e) {
      throw new CaException(Reason.AUTHENTICATION_UNAVAILABLE, "the API server did not answer the token review within "
          + settings.reviewTimeout() + "; retry later");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CaException(Reason.AUTHENTICATION_UNAVAILABLE, "interrupted while reviewing the token");
    }
  }

  /** One review per token at a time; the answer goes to every caller waiting for it, and into the cache. */
  private CompletableFuture<Caller> startReview(String digest, String token, ServiceAccountJwt.Shape shape) {
    CompletableFuture<Caller> mine = new CompletableFuture<>();
    CompletableFuture<Caller> existing = inFlight.putIfAbsent(digest, mine);
    if (existing != null) {
      return existing;
    }
    // A review that finished between this caller's cache lookup and now has written the cache before leaving
    // inFlight: look again rather than review twice.
    Caller cached = cache.findAccepted(digest, clock.instant());
    if (cached != null) {
      inFlight.remove(digest, mine);
      mine.complete(cached);
      return mine;
    }
    try {
      // Order matters: the answer is cached, then the review leaves inFlight, then waiting callers get it. So a
      // later caller finds the cache or a review still running, never a finished review's stale answer.
      reviewers.execute(() -> {
        try {
          Caller caller = review(token);
          Instant now = clock.instant();
          Instant until = now.plus(settings.maxCacheTime());
          cache.accept(digest, caller, shape.expiry().isBefore(until) ? shape.expiry() : until);
          inFlight.remove(digest, mine);
          mine.complete(caller);
        } catch (CaException e) {
          if (e.reason() == Reason.UNAUTHENTICATED) {
            cache.refuse(digest, e, clock.instant().plus(settings.refusalCacheTime()));
          }
          inFlight.remove(digest, mine);
          mine.completeExceptionally(e);
        } catch (RuntimeException | Error e) {
          inFlight.remove(digest, mine);
          mine.completeExceptionally(e);
        }
      });
    } catch (RejectedExecutionException e) {
      inFlight.remove(digest, mine);
      throw new CaException(Reason.AUTHENTICATION_UNAVAILABLE, (settings.reviewThreads() + settings.reviewQueue())
          + " token reviews are in progress or waiting (the limit); retry later");
    }
    return mine;
  }

  /** Asks the API server; blocks. */
  private Caller review(String bearerToken) {
    TokenReview review;
    try {
      reviews.increment();
      review = client.resource(new TokenReviewBuilder().withNewSpec().withToken(bearerToken)
          .withAudiences(AUDIENCE).endSpec().build()).create();
    } catch (KubernetesClientException e) {
      throw new CaException(Reason.AUTHENTICATION_UNAVAILABLE, "the token could not be reviewed (TokenReview: "
          + e.getMessage() + "); the control plane needs RBAC to create tokenreviews");
    }
    var status = review.getStatus();
    if (status == null || !Boolean.TRUE.equals(status.getAuthenticated())) {
      throw new CaException(Reason.UNAUTHENTICATED, "the API server did not accept the token"
          + (status == null || status.getError() == null ? "" : ": " + status.getError())
          + " (node proxies send a projected service-account token with audience " + AUDIENCE + ")");
    }
    List<String> audiences = status.getAudiences();
    if (audiences == null || !audiences.contains(AUDIENCE)) {
      throw new CaException(Reason.UNAUTHENTICATED, "the API server did not confirm the audience " + AUDIENCE
          + " for the token (its audiences: " + (audiences == null ? "[]" : audiences) + ")");
    }
    String user = status.getUser() == null ? null : status.getUser().getUsername();
    if (user == null || !user.startsWith(SA_PREFIX) || user.substring(SA_PREFIX.length()).split(":").length != 2) {
      throw new CaException(Reason.UNAUTHENTICATED, "'" + user + "' is not a service account");
    }
    String[] sa = user.substring(SA_PREFIX.length()).split(":");
    String account = sa[0] + "/" + sa[1];
    if (!trustedServiceAccounts.contains(account)) {
      throw new CaException(Reason.UNAUTHENTICATED, "service account " + account + " is not a trusted node "
          + "proxy (trusted: " + trustedServiceAccounts + ")");
    }
    Map<String, List<String>> extra = status.getUser().getExtra() == null ? Map.of() : status.getUser().getExtra();
    String podName = first(extra.get(POD_NAME));
    String podUid = first(extra.get(POD_UID));
    if (podName == null || podUid == null) {
      throw new CaException(Reason.UNAUTHENTICATED, "the token of " + account + " is not bound to a pod "
          + "(use the kubelet's projected service-account token, not a long-lived secret)");
    }
    Pod pod;
    try {
      pod = client.pods().inNamespace(sa[0]).withName(podName).get();
    } catch (KubernetesClientException e) {
      throw new CaException(Reason.AUTHENTICATION_UNAVAILABLE, "looking up pod " + sa[0] + "/" + podName + " failed: "
          + e.getMessage());
    }
    if (pod == null || !podUid.equals(pod.getMetadata().getUid())) {
      throw new CaException(Reason.UNAUTHENTICATED, "the token is bound to pod " + sa[0] + "/" + podName
          + " (uid " + podUid + "), which " + (pod == null ? "no longer exists" : "was replaced (uid now "
              + pod.getMetadata().getUid() + ")"));
    }
    String node = pod.getSpec() == null ? null : pod.getSpec().getNodeName();
    if (node == null || node.isBlank()) {
      throw new CaException(Reason.UNAUTHENTICATED, "pod " + sa[0] + "/" + podName + " is not on a node");
    }
    return new Caller(node, "service account " + account + ", pod " + podName + " (uid " + podUid + ")");
  }

  /** The rate limit's key: the peer's IP address (any port), or "unknown". */
  static String peerKey(SocketAddress peer) {
    if (peer instanceof InetSocketAddress inet && inet.getAddress() != null) {
      return inet.getAddress().getHostAddress();
    }
    return peer == null ? "unknown" : peer.toString();
  }

  static String digest(String token) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String first(List<String> values) {
    return values == null || values.isEmpty() ? null : values.getFirst();
  }

  @Override
  public void close() {
    reviewers.shutdownNow();
  }
}
