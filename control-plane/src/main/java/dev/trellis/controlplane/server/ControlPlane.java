package dev.trellis.controlplane.server;

import static java.util.Objects.requireNonNull;

import dev.trellis.ca.csr.CsrBuilder;
import dev.trellis.ca.csr.CsrValidator;
import dev.trellis.ca.issuer.CertificateAuthority;
import dev.trellis.ca.issuer.IssuancePolicy;
import dev.trellis.ca.issuer.IssuedChain;
import dev.trellis.ca.server.BearerAuthInterceptor;
import dev.trellis.ca.server.CallerAuthenticator;
import dev.trellis.ca.server.CertificateService;
import dev.trellis.ca.server.NodeAuthorizer;
import dev.trellis.ca.store.FileCaStore;
import dev.trellis.controlplane.admin.AdminAccess;
import dev.trellis.controlplane.admin.AdminServer;
import dev.trellis.controlplane.admin.AdminView;
import dev.trellis.controlplane.cluster.Leadership;
import dev.trellis.controlplane.cluster.SecretCaStore;
import dev.trellis.controlplane.cluster.TrustBundleConfigMaps;
import dev.trellis.controlplane.config.MeshFileException;
import dev.trellis.controlplane.config.MeshFileSource;
import dev.trellis.controlplane.discovery.KubernetesSource;
import dev.trellis.controlplane.discovery.TokenReviewAuthenticator;
import dev.trellis.controlplane.model.Mesh;
import dev.trellis.controlplane.translate.TranslationCache;
import dev.trellis.controlplane.translate.Translator;
import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.refusal.RefusalLog;
import dev.trellis.mtls.svid.Backoff;
import dev.trellis.mtls.svid.IssuedSvid;
import dev.trellis.mtls.svid.RenewingSvidSource;
import dev.trellis.mtls.svid.X509Svid;
import dev.trellis.telemetry.metrics.MetricsPipeline;
import dev.trellis.xds.cache.ConfigStore;
import dev.trellis.xds.cache.Debouncer;
import dev.trellis.xds.server.AdsLimits;
import dev.trellis.xds.server.AdsServer;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.TlsServerCredentials;
import io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The control-plane process. The mesh — from the mesh file (local mode, hot-reloaded) or from the API server's
 * objects (cluster mode, {@link KubernetesSource}) — is translated into xDS resources and served over ADS together
 * with the CA, on 15010 (plaintext) and 15012 (TLS with a certificate from the mesh CA, renewed without restart);
 * health, metrics and debug on 15014. In cluster mode the CA root lives in a Secret, node proxies authenticate
 * with TokenReview, and the Lease holder among replicas writes status and trust-bundle ConfigMaps.
 */
public final class ControlPlane implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(ControlPlane.class);
  /** Max size of one gRPC message the control plane accepts (a CSR is at most 64 KiB; requests are small). */
  static final int MAX_INBOUND_MESSAGE = 4 * 1024 * 1024;
  /**
   * Concurrent calls per connection the transport admits (HTTP/2 MAX_CONCURRENT_STREAMS): a backstop beside the ADS
   * server's own per-connection stream limit, for the CA's unary calls.
   */
  static final int MAX_CALLS_PER_CONNECTION = 64;
  /** An admin token shorter than this is refused at start-up: it could be guessed. */
  static final int MIN_ADMIN_TOKEN_LENGTH = 16;

  private final ControlPlaneOptions options;
  private final Clock clock;
  private final ScheduledExecutorService scheduler =
      Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("trellis-config").daemon().factory());
  private final ExecutorService xdsExecutor =
      Executors.newFixedThreadPool(Math.max(2, Runtime.getRuntime().availableProcessors()),
          Thread.ofPlatform().name("trellis-xds-", 0).daemon().factory());
  private final ConfigStore store = new ConfigStore();
  /** Every refusal of the xDS, CA and admin servers: counted by reason (metrics), logged once per interval. */
  private final RefusalLog refusals;
  private TokenReviewAuthenticator tokenReviews;

  private final KubernetesClient kubernetes;
  private CertificateAuthority ca;
  private MeshState meshState;
  private MeshFileSource source;
  private volatile KubernetesSource cluster;
  private volatile Leadership leadership;
  private volatile TrustBundleConfigMaps trustBundles;
  private final CompletableFuture<Mesh> firstClusterMesh = new CompletableFuture<>();
  private Debouncer debouncer;
  private AdsServer ads;
  private Server plaintext;
  private Server tls;
  private AdminServer admin;
  /** Every metric of the process, for the admin port's {@code /metrics}. */
  private MetricsPipeline metrics;
  private ControlPlaneMetrics instruments;
  private AdminView adminView;
  private CertificateService certificates;
  private final LongAdder pushes = new LongAdder();
  private final LongAdder pushNanos = new LongAdder();
  private RenewingSvidSource servingSource;
  private final ServingKeyManager servingKeys = new ServingKeyManager();
  private volatile Mesh pendingMesh;
  private volatile Instant lastPublished;
  /** Used on the config thread only (start, then publishPending). */
  private final TranslationCache translations = new TranslationCache();

  /** Local mode (the options name a mesh file). */
  public ControlPlane(ControlPlaneOptions options, Clock clock) {
    this(options, clock, null);
  }

  /** Cluster mode when {@code options.cluster()} is set: {@code kubernetes} talks to the API server. */
  public ControlPlane(ControlPlaneOptions options, Clock clock, KubernetesClient kubernetes) {
    this.options = requireNonNull(options, "options");
    this.clock = requireNonNull(clock, "clock");
    this.refusals = RefusalLog.to(log, clock);
    if (options.cluster() != null && kubernetes == null) {
      throw new IllegalArgumentException("cluster mode needs a Kubernetes client");
    }
    this.kubernetes = kubernetes;
  }

  /**
   * Starts everything; returns once all ports accept connections.
   *
   * @throws MeshFileException if the mesh file is invalid (each problem listed)
   * @throws IOException if a port cannot be bound (the message names the port and the option)
   */
  public ControlPlane start() throws MeshFileException, IOException {
    try {
      return startAll();
    } catch (MeshFileException | IOException | RuntimeException e) {
      close(); // nothing started half-way stays behind
      throw e;
    }
  }

  private ControlPlane startAll() throws MeshFileException, IOException {
    metrics = MetricsPipeline.scrapeOnly("trellis-control-plane");
    instruments = new ControlPlaneMetrics(metrics, this);
    adminView = new ControlPlaneView(this, metrics);
    Mesh mesh = options.cluster() == null ? openMeshFile() : openCluster(options.cluster());
    store.publish(Translator.translate(mesh, ca.trustBundle(), translations));
    debouncer = new Debouncer(this::publishPending, scheduler, options.debounce(), options.maxDebounce(), System::nanoTime);
    if (pendingMesh != null) {
      debouncer.changed(); // the cluster changed while the first mesh was translated
    }

    String adminToken = readAdminToken(options.adminTokenFile());
    ads = new AdsServer(store, new XdsAccess(options.anonymousXds()), AdsLimits.defaults(), xdsExecutor, clock,
        refusals);
    certificates = new CertificateService(ca, new NodeAuthorizer(meshState), refusals);
    // Anonymous callers get as far as the services, which decide (the CA refuses them, xDS serves the global view
    // with its anonymous limits); without the option the interceptor refuses them on both ports.
    plaintext = startGrpc("xds", options.xdsPort(), NettyServerBuilder.forAddress(address(options.xdsPort())),
        certificates, options.anonymousXds());
    startServingCertificate(mesh);
    tls = startGrpc("xds-tls", options.xdsTlsPort(), NettyServerBuilder.forAddress(address(options.xdsTlsPort()),
        TlsServerCredentials.newBuilder().keyManager(servingKeys).build()), certificates, options.anonymousXds());
    admin = AdminServer.start(new InetSocketAddress(options.bind(), options.adminPort()),
        adminView, new AdminAccess(adminToken, meshState, AdminAccess::sameHost), refusals);
    if (source != null) {
      source.start();
    }
    log.info("control plane up: xDS+CA {} (plaintext), {} (TLS), admin {}; trust domain {}, {} services",
        plaintext.getPort(), tls.getPort(), admin.port(), mesh.trustDomain(), mesh.services().size());
    return this;
  }

  private Mesh openMeshFile() throws MeshFileException {
    source = new MeshFileSource(options.meshFile(), scheduler, options.pollInterval(), clock, this::onMeshChanged);
    Mesh mesh = source.load();
    meshState = new MeshState(mesh, null);
    ca = CertificateAuthority.openOrCreate(mesh.trustDomain(), new FileCaStore(options.stateDir().resolve("ca")),
        IssuancePolicy.defaults(), clock);
    return mesh;
  }

  /**
   * The CA first (its root is created once across racing replicas by the Secret's create), then the Lease, then the
   * informers; returns once they have listed the cluster.
   */
  private Mesh openCluster(ControlPlaneOptions.Cluster c) throws IOException {
    ca = CertificateAuthority.openOrCreate(c.trustDomain(), new SecretCaStore(kubernetes, c.namespace(),
        SecretCaStore.DEFAULT_NAME), IssuancePolicy.defaults(), clock);
    trustBundles = new TrustBundleConfigMaps(kubernetes, c.namespace());
    leadership = Leadership.start(kubernetes, c.namespace(), Leadership.DEFAULT_LEASE, c.podName(), c.leaseTimings(),
        () -> scheduler.execute(this::onLeadershipGained));
    cluster = new KubernetesSource(kubernetes, new KubernetesSource.Settings(c.trustDomain(), c.clusterDomain(),
        c.defaultMtls(), c.namespace(), options.debounce()), scheduler, this::onClusterMesh, clock, leadership)
        .afterEachPass(this::publishTrustBundles).start();
    Mesh mesh;
    try {
      mesh = firstClusterMesh.get(c.startTimeout().toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw new IOException("the informers did not list the cluster within " + c.startTimeout() + "; check that the "
          + "API server is reachable and the control plane's RBAC allows list/watch of namespaces, nodes, pods, "
          + "services and endpointslices", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while waiting for the cluster", e);
    } catch (ExecutionException e) {
      throw new IOException("reading the cluster failed", e.getCause());
    }
    tokenReviews = new TokenReviewAuthenticator(kubernetes, c.trustedNodeProxies());
    meshState = new MeshState(mesh, tokenReviews);
    scheduler.execute(this::publishTrustBundles); // the Lease may have been won before the informers synced
    return mesh;
  }

  /** On the config thread: the first mesh completes start-up; later ones are published like mesh-file edits. */
  private void onClusterMesh(Mesh fromCluster) {
    Mesh mesh = fromCluster.withEgress(options.cluster().egress()); // the control plane's flag, not an API object
    if (!firstClusterMesh.isDone()) {
      firstClusterMesh.complete(mesh);
      return;
    }
    onMeshChanged(mesh);
  }

  /** On the config thread: a new leader writes what the previous one may have left stale. */
  private void onLeadershipGained() {
    if (cluster != null) {
      cluster.refresh();
    }
    publishTrustBundles();
  }

  private void publishTrustBundles() {
    if (trustBundles == null || cluster == null || !leadership.getAsBoolean()) {
      return;
    }
    try {
      int changed = trustBundles.sync(ca.trustBundle().toPem(ca.trustDomain()), cluster.enrolledNamespaces());
      if (changed > 0) {
        log.info("trust bundle ConfigMaps: {} written or removed", changed);
      }
    } catch (RuntimeException e) {
      log.warn("publishing trust bundle ConfigMaps failed (retried on the next change): {}", e.getMessage());
    }
  }

  private InetSocketAddress address(int port) {
    return new InetSocketAddress(options.bind(), port);
  }

  private Server startGrpc(String what, int port, NettyServerBuilder builder, CertificateService certificates,
      BearerAuthInterceptor.Anonymous anonymous) throws IOException {
    BearerAuthInterceptor auth = new BearerAuthInterceptor(meshState, anonymous, refusals);
    ServerServiceDefinition adsService = ServerInterceptors.intercept(ads, auth);
    ServerServiceDefinition caService = ServerInterceptors.intercept(certificates, auth);
    try {
      return builder.maxInboundMessageSize(MAX_INBOUND_MESSAGE)
          .maxConcurrentCallsPerConnection(MAX_CALLS_PER_CONNECTION)
          .permitKeepAliveTime(30, TimeUnit.SECONDS)
          .addService(adsService).addService(caService)
          .build().start();
    } catch (IOException e) {
      if (e instanceof BindException || e.getCause() instanceof BindException) {
        throw new IOException("cannot listen on " + options.bind() + ":" + port + " (" + what + "): the port is in use; "
            + "stop the other process or choose another port", e);
      }
      throw e;
    }
  }

  /** The admin token from {@code file} (trimmed), or null without a file. */
  private static String readAdminToken(Path file) throws IOException {
    if (file == null) {
      return null;
    }
    String token;
    try {
      token = Files.readString(file).strip();
    } catch (IOException e) {
      throw new IOException("cannot read the admin token file " + file + " (--admin-token-file): " + e.getMessage(), e);
    }
    if (token.length() < MIN_ADMIN_TOKEN_LENGTH) {
      throw new IOException("the admin token in " + file + " has " + token.length() + " characters (expected: at least "
          + MIN_ADMIN_TOKEN_LENGTH + "; generate one with 'openssl rand -hex 32')");
    }
    return token;
  }

  /** The control plane's own SVID (plus DNS names) for 15012, renewed at half life like any workload's. */
  private void startServingCertificate(Mesh mesh) throws IOException {
    String namespace = options.cluster() == null ? "trellis-system" : options.cluster().namespace();
    SpiffeId id = SpiffeId.forWorkload(mesh.trustDomain(), namespace, "trellis-control-plane");
    CsrValidator validator = new CsrValidator(mesh.trustDomain());
    servingSource = RenewingSvidSource.start(id, identity -> CompletableFuture.supplyAsync(() -> {
      KeyPair key = CsrBuilder.newKeyPair();
      IssuedChain chain = ca.signServing(validator.validate(CsrBuilder.csrPem(identity, key), identity),
          options.servingDnsNames(), Duration.ZERO);
      return new IssuedSvid(X509Svid.of(chain.chain(), key.getPrivate()), chain.bundle());
    }, scheduler), scheduler, clock, Backoff.defaults());
    CompletableFuture<Void> first = new CompletableFuture<>();
    servingSource.addListener(servingKeys);
    servingSource.addListener(update -> first.complete(null));
    try {
      // The TLS port must not accept connections before it has a certificate.
      first.get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IOException("could not issue the control plane's serving certificate within 10 s", e);
    }
  }

  private void onMeshChanged(Mesh mesh) {
    pendingMesh = mesh;
    if (debouncer != null) {
      debouncer.changed();
    }
  }

  private void publishPending() {
    Mesh mesh = pendingMesh;
    if (mesh == null) {
      return;
    }
    try {
      if (!mesh.trustDomain().equals(ca.trustDomain())) {
        log.error("mesh file changes the trust domain from {} to {}; that needs a restart (and new certificates "
            + "for every workload), so the change is not applied", ca.trustDomain(), mesh.trustDomain());
        return;
      }
      meshState.update(mesh);
      long started = System.nanoTime();
      var snapshot = Translator.translate(mesh, ca.trustBundle(), translations);
      long translated = System.nanoTime();
      var diff = store.publish(snapshot);
      if (!diff.isEmpty()) {
        lastPublished = clock.instant();
      }
      long took = System.nanoTime() - started;
      pushes.increment();
      pushNanos.add(took);
      instruments.pushed(took);
      log.info("translated in {} ms, published in {} ms", (translated - started) / 1_000_000,
          (System.nanoTime() - translated) / 1_000_000);
      log.info("pushed snapshot {} ({} types changed)", store.current().version(),
          diff.global().size() + diff.byNode().size());
    } catch (RuntimeException e) {
      log.error("translating the new mesh failed; keeping the last good configuration", e);
    }
  }

  // ---- for the admin server and tests

  public ConfigStore store() {
    return store;
  }

  public AdsServer ads() {
    return ads;
  }

  public CertificateAuthority ca() {
    return ca;
  }

  /** Refusals of the xDS, CA and admin servers, by service and reason (the metric). */
  public RefusalLog refusals() {
    return refusals;
  }

  /** TokenReviews sent to the API server since start; -1 in local mode. */
  public long tokenReviews() {
    return tokenReviews == null ? -1 : tokenReviews.reviews();
  }

  /** The CA's signing service (its counters feed the admin metrics). */
  public CertificateService certificates() {
    return certificates;
  }

  /** Config changes translated and published since start, and the time that took in all. */
  public record PushStats(long count, long totalNanos) {}

  public PushStats pushStats() {
    return new PushStats(pushes.sum(), pushNanos.sum());
  }

  public Mesh mesh() {
    return meshState.mesh();
  }

  /** When the latest change was published to the xDS server (null before the first change after start). */
  public Instant lastPublished() {
    return lastPublished;
  }

  /** The mesh file's reload status; null in cluster mode. */
  public MeshFileSource.Status meshStatus() {
    return source == null ? null : source.status();
  }

  /** In cluster mode: whether this replica holds the Lease, who does, and which optional APIs are missing. */
  public AdminView.ClusterStatus clusterStatus() {
    if (cluster == null) {
      return null;
    }
    return new AdminView.ClusterStatus(leadership.getAsBoolean(), leadership.identity(), leadership.currentLeader(),
        cluster.missingApis());
  }

  /** Checks the mesh file now and, if it changed, pushes it (bypassing the debounce); for tests and admin. */
  public boolean reloadNow() {
    try {
      return CompletableFuture.supplyAsync(() -> {
        boolean changed = source != null && source.checkNow();
        publishPending();
        return changed;
      }, scheduler).get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("reload failed", e);
    }
  }

  public int xdsPort() {
    return plaintext.getPort();
  }

  public int xdsTlsPort() {
    return tls.getPort();
  }

  public int adminPort() {
    return admin.port();
  }

  /** What the admin port shows (its pages and {@code /metrics}); for tests that serve it once more. */
  AdminView adminView() {
    return adminView;
  }

  /** How callers authenticate (node tokens, or TokenReview in a cluster): the same for xDS, the CA and admin. */
  CallerAuthenticator authenticator() {
    return meshState;
  }

  X509Svid servingCertificate() {
    return servingKeys.current();
  }

  @Override
  public void close() {
    if (admin != null) {
      admin.close();
    }
    for (Server s : new Server[] {plaintext, tls}) {
      if (s != null) {
        s.shutdownNow();
        try {
          s.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }
    if (servingSource != null) {
      servingSource.close();
    }
    if (source != null) {
      source.close();
    }
    if (cluster != null) {
      cluster.close();
    }
    if (leadership != null) {
      leadership.close();
    }
    if (tokenReviews != null) {
      tokenReviews.close();
    }
    scheduler.shutdownNow();
    xdsExecutor.shutdownNow();
    if (metrics != null) {
      metrics.close();
    }
  }
}
