package dev.trellis.ca.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.trellis.ca.issuer.CertificateAuthority;
import dev.trellis.ca.issuer.IssuancePolicy;
import dev.trellis.ca.server.BearerAuthInterceptor;
import dev.trellis.ca.server.CertificateService;
import dev.trellis.ca.server.NodeAuthorizer;
import dev.trellis.ca.server.StaticTokenAuthenticator;
import dev.trellis.ca.server.StaticWorkloadDirectory;
import dev.trellis.ca.store.FileCaStore;
import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.svid.Backoff;
import dev.trellis.mtls.svid.RenewingSvidSource;
import dev.trellis.mtls.testing.LoopbackMtls;
import dev.trellis.mtls.tls.RotatingTlsContexts;
import dev.trellis.mtls.tls.TlsOptions;
import dev.trellis.mtls.verify.ExpectedPeers;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The identity path as a node proxy uses it, over real sockets: the CA on a gRPC server on
 * loopback, one renewing SVID source per workload, TLS contexts that follow them, and an mTLS
 * handshake between the two issued identities.
 */
class CaClientEndToEndTest {

  private static final TrustDomain TD = TrustDomain.CLUSTER_LOCAL;
  private static final SpiffeId FRONTEND = SpiffeId.forWorkload(TD, "shop", "frontend");
  private static final SpiffeId BACKEND = SpiffeId.forWorkload(TD, "shop", "backend");
  private static final String TOKEN = "node-1-token-0123456789abcdef";

  @TempDir
  Path dir;

  private final Clock clock = Clock.systemUTC();
  private final ScheduledExecutorService executor = Executors.newSingleThreadScheduledExecutor();
  private Server server;
  private ManagedChannel channel;

  @AfterEach
  void stop() throws Exception {
    executor.shutdownNow();
    if (channel != null) {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    if (server != null) {
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void workloadsIssuedOverGrpcTalkMutualTlsAndRenewalRotatesTheServedSvid() throws Exception {
    // Short default TTL so that renewal at half life happens within the test.
    IssuancePolicy policy = new IssuancePolicy(Duration.ofSeconds(4), Duration.ofDays(1), Duration.ofSeconds(1), Duration.ZERO);
    CertificateAuthority ca = CertificateAuthority.openOrCreate(TD, new FileCaStore(dir.resolve("ca")), policy, clock);
    server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(ServerInterceptors.intercept(
            new CertificateService(ca, new NodeAuthorizer(new StaticWorkloadDirectory(Map.of("node-1", Set.of(FRONTEND, BACKEND))))),
            new BearerAuthInterceptor(new StaticTokenAuthenticator(Map.of("node-1", TOKEN)))))
        .build().start();
    channel = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort()).usePlaintext().build();
    CaClient client = new CaClient(channel, BearerTokenCredentials.of(TOKEN), Duration.ZERO, Duration.ofSeconds(5), clock);

    RotatingTlsContexts backend = new RotatingTlsContexts(BACKEND, TlsOptions.defaults(), clock);
    RotatingTlsContexts frontend = new RotatingTlsContexts(FRONTEND, TlsOptions.defaults(), clock);
    try (RenewingSvidSource backendSource = RenewingSvidSource.start(BACKEND, client, executor, clock, Backoff.defaults());
        RenewingSvidSource frontendSource = RenewingSvidSource.start(FRONTEND, client, executor, clock, Backoff.defaults());
        LoopbackMtls loop = new LoopbackMtls(ch -> backend.newServerHandler(ch.alloc()), ExpectedPeers.exactly(FRONTEND))) {
      backendSource.addListener(backend);
      frontendSource.addListener(frontend);
      await().atMost(Duration.ofSeconds(10)).until(() -> backendSource.current().isPresent() && frontendSource.current().isPresent());
      await().atMost(Duration.ofSeconds(10)).until(() -> hasContexts(backend) && hasContexts(frontend));

      LoopbackMtls.Outcome first = loop.exchange(frontend.newClientHandler(io.netty.buffer.ByteBufAllocator.DEFAULT),
          ExpectedPeers.exactly(BACKEND), "hello");
      assertThat(first.ok()).as("%s", first.clientError()).isTrue();
      assertThat(first.clientSawServer()).isEqualTo(BACKEND);
      assertThat(first.serverSawClient()).isEqualTo(FRONTEND);

      BigInteger firstSerial = first.serverSerial();
      await().atMost(Duration.ofSeconds(15)).until(() ->
          !backend.credentials().svid().leaf().getSerialNumber().equals(firstSerial));
      LoopbackMtls.Outcome second = loop.exchange(frontend.newClientHandler(io.netty.buffer.ByteBufAllocator.DEFAULT),
          ExpectedPeers.exactly(BACKEND), "again");
      assertThat(second.ok()).as("%s", second.clientError()).isTrue();
      assertThat(second.serverSerial()).isNotEqualTo(firstSerial);
    }
  }

  private static boolean hasContexts(RotatingTlsContexts contexts) {
    try {
      contexts.serverContext();
      return true;
    } catch (RuntimeException e) {
      return false;
    }
  }
}
