package dev.trellis.controlplane.discovery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.trellis.ca.CaException;
import dev.trellis.ca.CaException.Reason;
import dev.trellis.ca.server.Caller;
import dev.trellis.controlplane.testing.FakeJwt;
import dev.trellis.mtls.testing.ManualClock;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenReview;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Against Fabric8's mock API server (pods in CRUD mode; TokenReview answered by an expectation playing the
 * API server's authenticator, since the mock cannot validate tokens). Every review the API server answers is
 * counted, so the tests can say how many a caller caused.
 */
@EnableKubernetesMockClient(crud = true)
class TokenReviewAuthenticatorTest {

  static final InetSocketAddress PEER_A = new InetSocketAddress("10.0.0.1", 40000);
  static final InetSocketAddress PEER_B = new InetSocketAddress("10.0.0.2", 40000);

  KubernetesMockServer server;
  KubernetesClient client;
  final ManualClock clock = new ManualClock(Instant.now());
  final AtomicInteger reviewsAnswered = new AtomicInteger();
  final CountDownLatch slowGate = new CountDownLatch(1);
  TokenReviewAuthenticator authenticator;

  /** The node proxy pod's UID, as the API server assigned it. */
  String podUid;

  /** What the API server would say of each token (by its test name). */
  TokenReview review(String token) {
    reviewsAnswered.incrementAndGet();
    String name = FakeJwt.name(token);
    TokenReviewBuilder b = new TokenReviewBuilder().withNewSpec().withToken(token).endSpec();
    if (name.startsWith("slow-")) {
      try {
        slowGate.await(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      name = "node-a-token";
    }
    return switch (name) {
      case "node-a-token" -> bound(b, "trellis-ca");
      case "no-audience" -> bound(b, null);
      case "other-audience" -> bound(b, "vault");
      case "stale-token" -> b.withNewStatus().withAuthenticated(true).withAudiences("trellis-ca").withNewUser()
          .withUsername("system:serviceaccount:trellis-system:trellis-node-proxy")
          .withExtra(Map.of(TokenReviewAuthenticator.POD_NAME, List.of("node-proxy-a"),
              TokenReviewAuthenticator.POD_UID, List.of("uid-old")))
          .endUser().endStatus().build();
      case "app-token" -> b.withNewStatus().withAuthenticated(true).withAudiences("trellis-ca").withNewUser()
          .withUsername("system:serviceaccount:demo:default").endUser().endStatus().build();
      case "secret-token" -> b.withNewStatus().withAuthenticated(true).withAudiences("trellis-ca").withNewUser()
          .withUsername("system:serviceaccount:trellis-system:trellis-node-proxy").endUser().endStatus().build();
      default -> b.withNewStatus().withAuthenticated(false).withError("invalid bearer token").endStatus().build();
    };
  }

  TokenReview bound(TokenReviewBuilder b, String audience) {
    var status = b.withNewStatus().withAuthenticated(true);
    if (audience != null) {
      status.withAudiences(audience);
    }
    return status.withNewUser().withUsername("system:serviceaccount:trellis-system:trellis-node-proxy")
        .withExtra(Map.of(TokenReviewAuthenticator.POD_NAME, List.of("node-proxy-a"),
            TokenReviewAuthenticator.POD_UID, List.of(podUid)))
        .endUser().endStatus().build();
  }

  @BeforeEach
  void setUp() {
    server.expect().post().withPath("/apis/authentication.k8s.io/v1/tokenreviews")
        .andReply(201, request -> review(Serialization.unmarshal(request.getBody().readUtf8(), TokenReview.class)
            .getSpec().getToken()))
        .always();
    podUid = client.pods().inNamespace("trellis-system").resource(new PodBuilder().withNewMetadata()
        .withName("node-proxy-a").withNamespace("trellis-system").endMetadata().withNewSpec().withNodeName("node-a")
        .endSpec().build()).create().getMetadata().getUid();
    authenticator = authenticator(TokenReviewAuthenticator.Settings.defaults());
  }

  TokenReviewAuthenticator authenticator(TokenReviewAuthenticator.Settings settings) {
    return new TokenReviewAuthenticator(client, Set.of("trellis-system/trellis-node-proxy"), settings, clock);
  }

  @AfterEach
  void tearDown() {
    slowGate.countDown();
    authenticator.close();
  }

  String token(String name) {
    return FakeJwt.of(name, clock.instant().plus(Duration.ofHours(1)));
  }

  @Test
  void aNodeProxysBoundTokenAuthenticatesAsItsPodsNode() {
    Caller caller = authenticator.authenticate(token("node-a-token"), PEER_A);
    assertThat(caller.node()).isEqualTo("node-a");
    assertThat(caller.principal()).contains("trellis-system/trellis-node-proxy").contains("node-proxy-a");
  }

  @Test
  void untrustedAccountsUnboundOrStaleTokensAndRejectedTokensAreRefusedSayingWhy() {
    assertThatThrownBy(() -> authenticator.authenticate(token("app-token"))).isInstanceOfSatisfying(CaException.class,
        e -> assertThat(e.reason()).isEqualTo(Reason.UNAUTHENTICATED))
        .hasMessageContaining("service account demo/default is not a trusted node proxy");
    assertThatThrownBy(() -> authenticator.authenticate(token("stale-token")))
        .hasMessageContaining("(uid uid-old), which was replaced (uid now " + podUid + ")");
    assertThatThrownBy(() -> authenticator.authenticate(token("secret-token"))).hasMessageContaining("not bound to a pod");
    assertThatThrownBy(() -> authenticator.authenticate(token("forged"))).hasMessageContaining("invalid bearer token");
    client.pods().inNamespace("trellis-system").withName("node-proxy-a").delete();
    assertThatThrownBy(() -> authenticator.authenticate(token("node-a-token"))).hasMessageContaining("no longer exists");
  }

  @Test
  void theSameValidTokenIsReviewedOnceForManyCalls() {
    String t = token("node-a-token");
    for (int i = 0; i < 100; i++) {
      assertThat(authenticator.authenticate(t, PEER_A).node()).isEqualTo("node-a");
    }
    assertThat(reviewsAnswered.get()).isEqualTo(1);
    assertThat(authenticator.reviews()).isEqualTo(1);
  }

  @Test
  void concurrentCallsWithOneTokenShareOneReview() {
    String t = token("node-a-token");
    List<CompletableFuture<Caller>> calls = new java.util.ArrayList<>();
    for (int i = 0; i < 16; i++) {
      calls.add(CompletableFuture.supplyAsync(() -> authenticator.authenticate(t, PEER_A)));
    }
    calls.forEach(c -> assertThat(c.join().node()).isEqualTo("node-a"));
    assertThat(reviewsAnswered.get()).isEqualTo(1);
  }

  @Test
  void aThousandGarbageTokensCauseNoReviewAtAll() {
    Instant now = clock.instant();
    Map<String, String> kinds = Map.of(
        "not-a-jwt", "not a JWT",
        "a.b.c", "header is not base64url-encoded JSON",
        "x".repeat(ServiceAccountJwt.MAX_LENGTH + 1), "more than a service-account token",
        FakeJwt.of("vault", now.plusSeconds(600), "[\"vault\"]"), "not meant for trellis-ca",
        FakeJwt.of("old", now.minusSeconds(1)), "expired at",
        b64("{\"alg\":\"none\"}") + "." + b64("{\"exp\":99999999999,\"aud\":\"trellis-ca\"}") + ".c2ln", "no signing algorithm",
        b64("{\"alg\":\"RS256\"}") + "." + b64("{\"aud\":\"trellis-ca\"}") + ".c2ln", "has no expiry",
        b64("{\"alg\":\"RS256\"}") + "." + b64("[1,2]") + ".c2ln", "payload is not a JSON object");
    kinds.forEach((garbage, why) -> assertThatThrownBy(() -> authenticator.authenticate(garbage, PEER_A))
        .as(why).isInstanceOfSatisfying(CaException.class, e -> assertThat(e.reason()).isEqualTo(Reason.UNAUTHENTICATED))
        .hasMessageContaining(why));
    Random random = new Random(16);
    for (int i = 0; i < 1000; i++) {
      byte[] bytes = new byte[random.nextInt(1, 300)];
      random.nextBytes(bytes);
      String garbage = i % 2 == 0 ? java.util.Base64.getUrlEncoder().encodeToString(bytes)
          : b64("{\"alg\":\"RS256\"}") + "." + java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(bytes)
              + ".c2ln";
      assertThatThrownBy(() -> authenticator.authenticate(garbage, PEER_A)).isInstanceOf(CaException.class);
    }
    assertThat(reviewsAnswered.get()).isZero();
  }

  static String b64(String json) {
    return java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(json.getBytes());
  }

  @Test
  void theReviewMustConfirmTheTrellisCaAudience() {
    assertThatThrownBy(() -> authenticator.authenticate(token("no-audience")))
        .hasMessageContaining("did not confirm the audience trellis-ca for the token (its audiences: []");
    assertThatThrownBy(() -> authenticator.authenticate(token("other-audience")))
        .hasMessageContaining("did not confirm the audience trellis-ca for the token (its audiences: [vault])");
  }

  @Test
  void eachPeerMayStartOnlySoManyReviewsAndGetsAClearStatusBeyond() {
    authenticator.close();
    authenticator = authenticator(new TokenReviewAuthenticator.Settings(Duration.ofMinutes(1), Duration.ofSeconds(10),
        100, 100, 2, 8, 1, 2, Duration.ofSeconds(10)));
    assertThatThrownBy(() -> authenticator.authenticate(token("forged-1"), PEER_A)).hasMessageContaining("invalid");
    assertThatThrownBy(() -> authenticator.authenticate(token("forged-2"), PEER_A)).hasMessageContaining("invalid");
    assertThatThrownBy(() -> authenticator.authenticate(token("forged-3"), PEER_A))
        .isInstanceOfSatisfying(CaException.class, e -> {
          assertThat(e.reason()).isEqualTo(Reason.RATE_LIMITED);
          assertThat(e.toStatus().getCode()).isEqualTo(io.grpc.Status.Code.RESOURCE_EXHAUSTED);
        })
        .hasMessageContaining("too many token reviews from 10.0.0.1 (more than 1.0 per second); retry later");
    assertThat(reviewsAnswered.get()).isEqualTo(2);
    assertThat(authenticator.authenticate(token("node-a-token"), PEER_B).node()).as("another peer").isEqualTo("node-a");
    clock.advance(Duration.ofSeconds(1));
    assertThatThrownBy(() -> authenticator.authenticate(token("forged-3"), PEER_A)).hasMessageContaining("invalid");
    assertThat(reviewsAnswered.get()).isEqualTo(4);
  }

  @Test
  void reviewsRunOnABoundedExecutorAndOverflowIsUnavailable() {
    authenticator.close();
    authenticator = authenticator(new TokenReviewAuthenticator.Settings(Duration.ofMinutes(1), Duration.ofSeconds(10),
        100, 100, 1, 1, 100, 100, Duration.ofSeconds(10)));
    CompletableFuture<Caller> first = CompletableFuture.supplyAsync(() -> authenticator.authenticate(token("slow-1"), PEER_A));
    await().atMost(Duration.ofSeconds(10)).until(() -> reviewsAnswered.get() == 1); // its thread is busy
    CompletableFuture<Caller> second = CompletableFuture.supplyAsync(() -> authenticator.authenticate(token("slow-2"), PEER_A));
    await().atMost(Duration.ofSeconds(10)).until(() -> authenticator.reviewsInFlight() == 2); // queued
    assertThatThrownBy(() -> authenticator.authenticate(token("slow-3"), PEER_A))
        .isInstanceOfSatisfying(CaException.class, e -> assertThat(e.toStatus().getCode())
            .isEqualTo(io.grpc.Status.Code.UNAVAILABLE))
        .hasMessageContaining("2 token reviews are in progress or waiting (the limit); retry later");
    slowGate.countDown();
    assertThat(first.join().node()).isEqualTo("node-a");
    assertThat(second.join().node()).isEqualTo("node-a");
  }

  @Test
  void anAcceptedTokenIsKeptUntilItExpiresAndAtMostTheMaximumCacheTime() {
    String shortLived = FakeJwt.of("node-a-token", clock.instant().plusSeconds(30));
    authenticator.authenticate(shortLived, PEER_A);
    clock.advance(Duration.ofSeconds(29));
    authenticator.authenticate(shortLived, PEER_A);
    assertThat(reviewsAnswered.get()).isEqualTo(1);
    clock.advance(Duration.ofSeconds(2));
    assertThatThrownBy(() -> authenticator.authenticate(shortLived, PEER_A)).hasMessageContaining("expired at");
    assertThat(reviewsAnswered.get()).as("expired: refused without asking").isEqualTo(1);

    String longLived = token("node-a-token");
    authenticator.authenticate(longLived, PEER_A);
    clock.advance(Duration.ofSeconds(59));
    authenticator.authenticate(longLived, PEER_A);
    assertThat(reviewsAnswered.get()).isEqualTo(2);
    clock.advance(Duration.ofSeconds(2));
    authenticator.authenticate(longLived, PEER_A);
    assertThat(reviewsAnswered.get()).as("reviewed again after the maximum cache time").isEqualTo(3);
  }

  @Test
  void aRefusedTokenIsRefusedWithoutAskingForAWhile() {
    String forged = token("forged");
    for (int i = 0; i < 50; i++) {
      assertThatThrownBy(() -> authenticator.authenticate(forged, PEER_A)).hasMessageContaining("invalid bearer token");
    }
    assertThat(reviewsAnswered.get()).isEqualTo(1);
    clock.advance(Duration.ofSeconds(11));
    assertThatThrownBy(() -> authenticator.authenticate(forged, PEER_A)).hasMessageContaining("invalid bearer token");
    assertThat(reviewsAnswered.get()).isEqualTo(2);
  }
}
