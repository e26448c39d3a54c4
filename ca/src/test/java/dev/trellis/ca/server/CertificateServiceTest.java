package dev.trellis.ca.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.ca.client.BearerTokenCredentials;
import dev.trellis.ca.client.CaClient;
import dev.trellis.ca.issuer.CertificateAuthority;
import dev.trellis.ca.issuer.IssuancePolicy;
import dev.trellis.ca.store.FileCaStore;
import dev.trellis.ca.testing.TestCsrs;
import dev.trellis.ca.v1.CertificateServiceGrpc;
import dev.trellis.ca.v1.SignRequest;
import dev.trellis.ca.v1.SignResponse;
import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.svid.IssuedSvid;
import dev.trellis.mtls.svid.Pem;
import io.grpc.CallCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.MetadataUtils;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CertificateServiceTest {

  private static final TrustDomain TD = TrustDomain.CLUSTER_LOCAL;
  private static final SpiffeId WEB = SpiffeId.forWorkload(TD, "shop", "web");
  private static final SpiffeId DB = SpiffeId.forWorkload(TD, "shop", "db");
  private static final String NODE1_TOKEN = "node-1-token-0123456789abcdef";
  private static final String NODE2_TOKEN = "node-2-token-0123456789abcdef";

  @TempDir
  Path dir;

  private final Clock clock = Clock.systemUTC();
  private CertificateAuthority ca;
  private Server server;
  private ManagedChannel channel;
  private Function<String, Caller> authenticator;
  private WorkloadDirectory directory;

  @BeforeEach
  void start() throws Exception {
    ca = CertificateAuthority.openOrCreate(TD, new FileCaStore(dir.resolve("ca")), IssuancePolicy.defaults(), clock);
    StaticTokenAuthenticator tokens = new StaticTokenAuthenticator(Map.of("node-1", NODE1_TOKEN, "node-2", NODE2_TOKEN));
    authenticator = tokens::authenticate;
    StaticWorkloadDirectory workloads = new StaticWorkloadDirectory(Map.of("node-1", Set.of(WEB), "node-2", Set.of(DB)));
    directory = workloads;
    String name = InProcessServerBuilder.generateName();
    server = InProcessServerBuilder.forName(name).directExecutor()
        .addService(ServerInterceptors.intercept(
            new CertificateService(ca, new NodeAuthorizer((id, node) -> directory.runsOn(id, node))),
            new BearerAuthInterceptor(token -> authenticator.apply(token))))
        .build().start();
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
  }

  @AfterEach
  void stop() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  private CaClient client(String token, Duration ttl) {
    return new CaClient(channel, BearerTokenCredentials.of(token), ttl, Duration.ofSeconds(5), clock);
  }

  private CertificateServiceGrpc.CertificateServiceBlockingStub stub(CallCredentials credentials) {
    CertificateServiceGrpc.CertificateServiceBlockingStub s = CertificateServiceGrpc.newBlockingStub(channel);
    return credentials == null ? s : s.withCallCredentials(credentials);
  }

  private static SignRequest request(String csr, SpiffeId id) {
    return SignRequest.newBuilder().setCsrPem(csr).setIdentity(id.toString()).build();
  }

  @Test
  void nodeObtainsAnSvidForItsOwnWorkloadWithAKeyThatNeverLeftIt() throws Exception {
    IssuedSvid issued = client(NODE1_TOKEN, Duration.ZERO).fetchSvid(WEB).toCompletableFuture().get(5, TimeUnit.SECONDS);
    assertThat(issued.svid().id()).isEqualTo(WEB);
    assertThat(issued.bundle().roots(TD)).containsExactly(ca.activeAuthority().root());
    assertThat(Duration.between(issued.svid().notBefore(), issued.svid().notAfter()))
        .isEqualTo(Duration.ofHours(24).plusMinutes(1));
  }

  @Test
  void responseCarriesChainAndBundleAsOnePemPerElement() {
    KeyPair key = TestCsrs.ec("secp256r1");
    SignResponse r = stub(BearerTokenCredentials.of(NODE1_TOKEN)).sign(request(TestCsrs.csr(key, WEB.toString()), WEB));
    assertThat(r.getCertChainCount()).isEqualTo(1);
    assertThat(r.getTrustBundleCount()).isEqualTo(1);
    assertThat(r.getTrustDomain()).isEqualTo("cluster.local");
    X509Certificate leaf = Pem.decodeCertificates(r.getCertChain(0)).getFirst();
    assertThat(leaf.getPublicKey()).isEqualTo(key.getPublic());
  }

  @Test
  void longerTtlThanTheMaximumIsCappedNotRefused() throws Exception {
    IssuedSvid issued = client(NODE1_TOKEN, Duration.ofDays(365)).fetchSvid(WEB).toCompletableFuture().get(5, TimeUnit.SECONDS);
    assertThat(Duration.between(issued.svid().notBefore(), issued.svid().notAfter()))
        .isEqualTo(Duration.ofDays(7).plusMinutes(1));
  }

  @Test
  void callWithoutCredentialsIsUnauthenticated() {
    assertStatus(() -> stub(null).sign(request("x", WEB)), Status.Code.UNAUTHENTICATED,
        "missing 'authorization' metadata (expected: 'authorization: Bearer <node token>')");
  }

  @Test
  void nonBearerSchemeIsUnauthenticated() {
    Metadata headers = new Metadata();
    headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Basic dXNlcjpwYXNz");
    assertStatus(() -> stub(null).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers)).sign(request("x", WEB)),
        Status.Code.UNAUTHENTICATED, "must use the Bearer scheme");
  }

  @Test
  void unknownTokenIsUnauthenticated() {
    assertStatus(() -> stub(BearerTokenCredentials.of("not-a-real-token-at-all")).sign(request("x", WEB)),
        Status.Code.UNAUTHENTICATED, "not a known node token");
  }

  @Test
  void identityOfAWorkloadOnAnotherNodeIsDenied() {
    KeyPair key = TestCsrs.ec("secp256r1");
    assertStatus(() -> stub(BearerTokenCredentials.of(NODE1_TOKEN)).sign(request(TestCsrs.csr(key, DB.toString()), DB)),
        Status.Code.PERMISSION_DENIED,
        "no workload with identity spiffe://cluster.local/ns/shop/sa/db runs on node 'node-1'");
  }

  @Test
  void authorizationIsCheckedBeforeTheCsrIsEvenParsed() {
    assertStatus(() -> stub(BearerTokenCredentials.of(NODE1_TOKEN)).sign(request("garbage", DB)),
        Status.Code.PERMISSION_DENIED, "runs on node 'node-1'");
  }

  @Test
  void badCsrsAreInvalidArgumentsWithTheirReason() {
    KeyPair key = TestCsrs.ec("secp256r1");
    var node1 = stub(BearerTokenCredentials.of(NODE1_TOKEN));
    assertStatus(() -> node1.sign(request("garbage", WEB)), Status.Code.INVALID_ARGUMENT, "csr_pem holds 0 PEM blocks");
    assertStatus(() -> node1.sign(request("x".repeat(70_000), WEB)), Status.Code.INVALID_ARGUMENT,
        "expected: at most 65536");
    assertStatus(() -> node1.sign(request(TestCsrs.csr(key.getPublic(), TestCsrs.ec("secp256r1"), WEB.toString()), WEB)),
        Status.Code.INVALID_ARGUMENT, "signature does not verify");
    assertStatus(() -> node1.sign(request(TestCsrs.csr(key, DB.toString()), WEB)), Status.Code.INVALID_ARGUMENT,
        "differs from the requested identity");
    assertStatus(() -> node1.sign(request(TestCsrs.csr(TestCsrs.rsa(1024), WEB.toString()), WEB)),
        Status.Code.INVALID_ARGUMENT, "RSA key has 1024 bits");
    assertStatus(() -> node1.sign(SignRequest.newBuilder().setCsrPem("x").build()), Status.Code.INVALID_ARGUMENT,
        "identity is empty");
    assertStatus(() -> node1.sign(SignRequest.newBuilder().setCsrPem("x").setIdentity("spiffe://evil/ns/a/sa/b").build()),
        Status.Code.INVALID_ARGUMENT, "this CA signs only for 'cluster.local'");
    assertStatus(() -> node1.sign(request(TestCsrs.csr(key, WEB.toString()), WEB).toBuilder()
            .setTtl(com.google.protobuf.Duration.newBuilder().setSeconds(-5)).build()),
        Status.Code.INVALID_ARGUMENT, "ttl: PT-5S");
  }

  @Test
  void aFailingAuthenticatorIsUnavailableAndTheServerKeepsServing() {
    authenticator = token -> {
      throw new IllegalStateException("token review backend down");
    };
    assertStatus(() -> stub(BearerTokenCredentials.of(NODE1_TOKEN)).sign(request("x", WEB)), Status.Code.UNAVAILABLE,
        "caller authentication is unavailable");
    authenticator = new StaticTokenAuthenticator(Map.of("node-1", NODE1_TOKEN))::authenticate;
    KeyPair key = TestCsrs.ec("secp256r1");
    assertThat(stub(BearerTokenCredentials.of(NODE1_TOKEN)).sign(request(TestCsrs.csr(key, WEB.toString()), WEB))
        .getCertChainCount()).isEqualTo(1);
  }

  @Test
  void unexpectedFailureIsInternalWithAReferenceAndNoStackTrace() {
    directory = (id, node) -> {
      throw new IllegalStateException("directory exploded");
    };
    StatusRuntimeException e = catchStatus(() -> stub(BearerTokenCredentials.of(NODE1_TOKEN)).sign(request("x", WEB)));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INTERNAL);
    assertThat(e.getStatus().getDescription()).matches("internal error while signing \\(reference [0-9a-f]{8} in the control plane log\\)");
  }

  @Test
  void anAnonymousCallLetThroughByTheInterceptorIsStillRefusedByTheCa() throws Exception {
    String name = InProcessServerBuilder.generateName();
    Server lenient = InProcessServerBuilder.forName(name).directExecutor()
        .addService(ServerInterceptors.intercept(new CertificateService(ca, new NodeAuthorizer(directory)),
            new BearerAuthInterceptor(token -> authenticator.apply(token), BearerAuthInterceptor.Anonymous.ALLOW)))
        .build().start();
    ManagedChannel ch = InProcessChannelBuilder.forName(name).directExecutor().build();
    try {
      var stub = CertificateServiceGrpc.newBlockingStub(ch);
      assertStatus(() -> stub.sign(request("x", WEB)), Status.Code.UNAUTHENTICATED, "call was not authenticated");
      assertStatus(() -> stub.withCallCredentials(BearerTokenCredentials.of("wrong-token-0123456789")).sign(request("x", WEB)),
          Status.Code.UNAUTHENTICATED, "not a known node token");
    } finally {
      ch.shutdownNow();
      lenient.shutdownNow();
    }
  }

  @Test
  void tokensMustBeLongAndDistinct() {
    assertThatThrownBy(() -> new StaticTokenAuthenticator(Map.of("n", "short")))
        .hasMessageContaining("token of node 'n': 5 characters (expected: at least 16");
    assertThatThrownBy(() -> new StaticTokenAuthenticator(Map.of("a", NODE1_TOKEN, "b", NODE1_TOKEN)))
        .hasMessageContaining("share a token");
  }

  private static void assertStatus(Runnable call, Status.Code code, String message) {
    StatusRuntimeException e = catchStatus(call);
    assertThat(e.getStatus().getCode()).isEqualTo(code);
    assertThat(e.getStatus().getDescription()).contains(message).doesNotContain("\tat ").doesNotContain("Exception:");
  }

  private static StatusRuntimeException catchStatus(Runnable call) {
    try {
      call.run();
    } catch (StatusRuntimeException e) {
      return e;
    }
    throw new AssertionError("call succeeded; expected an error status");
  }
}
