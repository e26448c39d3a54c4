package dev.trellis.controlplane.discovery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.ca.CaException;
import dev.trellis.ca.server.Caller;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenReview;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Against Fabric8's mock API server (pods in CRUD mode; TokenReview answered by an expectation playing the
 * API server's authenticator, since the mock cannot validate tokens).
 */
@EnableKubernetesMockClient(crud = true)
class TokenReviewAuthenticatorTest {

  KubernetesMockServer server;
  KubernetesClient client;
  TokenReviewAuthenticator authenticator;

  /** The node proxy pod's UID, as the API server assigned it. */
  String podUid;

  /** What the API server would say of each token. */
  TokenReview review(String token) {
    TokenReviewBuilder b = new TokenReviewBuilder().withNewSpec().withToken(token).endSpec();
    return switch (token) {
      case "node-a-token" -> b.withNewStatus().withAuthenticated(true).withAudiences("trellis-ca").withNewUser()
          .withUsername("system:serviceaccount:trellis-system:trellis-node-proxy")
          .withExtra(Map.of(TokenReviewAuthenticator.POD_NAME, List.of("node-proxy-a"),
              TokenReviewAuthenticator.POD_UID, List.of(podUid)))
          .endUser().endStatus().build();
      case "stale-token" -> b.withNewStatus().withAuthenticated(true).withNewUser()
          .withUsername("system:serviceaccount:trellis-system:trellis-node-proxy")
          .withExtra(Map.of(TokenReviewAuthenticator.POD_NAME, List.of("node-proxy-a"),
              TokenReviewAuthenticator.POD_UID, List.of("uid-old")))
          .endUser().endStatus().build();
      case "app-token" -> b.withNewStatus().withAuthenticated(true).withNewUser()
          .withUsername("system:serviceaccount:demo:default").endUser().endStatus().build();
      case "secret-token" -> b.withNewStatus().withAuthenticated(true).withNewUser()
          .withUsername("system:serviceaccount:trellis-system:trellis-node-proxy").endUser().endStatus().build();
      default -> b.withNewStatus().withAuthenticated(false).withError("invalid bearer token").endStatus().build();
    };
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
    authenticator = new TokenReviewAuthenticator(client, Set.of("trellis-system/trellis-node-proxy"));
  }

  @Test
  void aNodeProxysBoundTokenAuthenticatesAsItsPodsNode() {
    Caller caller = authenticator.authenticate("node-a-token");
    assertThat(caller.node()).isEqualTo("node-a");
    assertThat(caller.principal()).contains("trellis-system/trellis-node-proxy").contains("node-proxy-a");
  }

  @Test
  void untrustedAccountsUnboundOrStaleTokensAndRejectedTokensAreRefusedSayingWhy() {
    assertThatThrownBy(() -> authenticator.authenticate("app-token")).isInstanceOfSatisfying(CaException.class,
        e -> assertThat(e.reason()).isEqualTo(CaException.Reason.UNAUTHENTICATED))
        .hasMessageContaining("service account demo/default is not a trusted node proxy");
    assertThatThrownBy(() -> authenticator.authenticate("stale-token"))
        .hasMessageContaining("(uid uid-old), which was replaced (uid now " + podUid + ")");
    assertThatThrownBy(() -> authenticator.authenticate("secret-token")).hasMessageContaining("not bound to a pod");
    assertThatThrownBy(() -> authenticator.authenticate("forged")).hasMessageContaining("invalid bearer token");
    client.pods().inNamespace("trellis-system").withName("node-proxy-a").delete();
    assertThatThrownBy(() -> authenticator.authenticate("node-a-token")).hasMessageContaining("no longer exists");
  }
}
