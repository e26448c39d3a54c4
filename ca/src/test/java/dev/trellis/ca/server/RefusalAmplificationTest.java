package dev.trellis.ca.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.trellis.ca.client.BearerTokenCredentials;
import dev.trellis.ca.issuer.CertificateAuthority;
import dev.trellis.ca.issuer.IssuancePolicy;
import dev.trellis.ca.store.FileCaStore;
import dev.trellis.ca.v1.CertificateServiceGrpc;
import dev.trellis.ca.v1.SignRequest;
import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.refusal.RefusalLog;
import dev.trellis.mtls.testing.ManualClock;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Refused CA calls cost a counter each, not a log line each (issue 16, item 6). */
class RefusalAmplificationTest {

  static final TrustDomain TD = TrustDomain.CLUSTER_LOCAL;
  static final String NODE1_TOKEN = "node-1-token-0123456789abcdef";

  @TempDir
  Path dir;

  final ManualClock clock = new ManualClock(Instant.parse("2025-01-01T00:00:00Z"));
  final List<String> lines = new ArrayList<>();
  final RefusalLog refusals = new RefusalLog(lines::add, Duration.ofSeconds(10), clock);
  Server server;
  ManagedChannel channel;

  @BeforeEach
  void start() throws Exception {
    CertificateAuthority ca = CertificateAuthority.openOrCreate(TD, new FileCaStore(dir.resolve("ca")),
        IssuancePolicy.defaults(), Clock.systemUTC());
    StaticWorkloadDirectory workloads = new StaticWorkloadDirectory(Map.of("node-1",
        Set.of(SpiffeId.forWorkload(TD, "shop", "web"))));
    String name = InProcessServerBuilder.generateName();
    server = InProcessServerBuilder.forName(name).directExecutor()
        .addService(ServerInterceptors.intercept(new CertificateService(ca, new NodeAuthorizer(workloads), refusals),
            new BearerAuthInterceptor(new StaticTokenAuthenticator(Map.of("node-1", NODE1_TOKEN)),
                BearerAuthInterceptor.Anonymous.REJECT, refusals)))
        .build().start();
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
  }

  @AfterEach
  void stop() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  Status.Code sign(String token, String identity) {
    var stub = CertificateServiceGrpc.newBlockingStub(channel).withCallCredentials(BearerTokenCredentials.of(token));
    return catchThrowableOfType(StatusRuntimeException.class,
        () -> stub.sign(SignRequest.newBuilder().setIdentity(identity).setCsrPem("x").build())).getStatus().getCode();
  }

  @Test
  void aThousandBadTokensAndAThousandDeniedIdentitiesLogOneLineEachAndCountEveryOne() {
    for (int i = 0; i < 1000; i++) {
      assertThat(sign("forged-token-" + i, "spiffe://cluster.local/ns/shop/sa/web")).isEqualTo(Status.Code.UNAUTHENTICATED);
      assertThat(sign(NODE1_TOKEN, "spiffe://cluster.local/ns/shop/sa/db")).isEqualTo(Status.Code.PERMISSION_DENIED);
    }
    assertThat(refusals.count("ca", "unauthenticated")).isEqualTo(1000);
    assertThat(refusals.count("ca", "not_authorized")).isEqualTo(1000);
    assertThat(lines).hasSize(2);
    assertThat(lines).allSatisfy(l -> assertThat(l).doesNotContain("\n").doesNotContain("\tat "));
    assertThat(lines).anySatisfy(l -> assertThat(l)
        .startsWith("refused ca request (unauthenticated): trellis.ca.v1.CertificateService/Sign from ")
        .contains("not a known node token"));
    assertThat(lines).anySatisfy(l -> assertThat(l).startsWith("refused ca request (not_authorized): sign request from "
        + "node token of node-1"));
  }
}
