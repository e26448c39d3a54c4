package dev.trellis.controlplane.discovery;

import static java.util.Objects.requireNonNull;

import dev.trellis.ca.CaException;
import dev.trellis.ca.server.Caller;
import dev.trellis.ca.server.CallerAuthenticator;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.authentication.TokenReview;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Authenticates node proxies in a cluster, as istiod and ztunnel do: the caller's projected service-account
 * token (audience {@value #AUDIENCE}) is checked by the API server's TokenReview; the token must belong to
 * one of the trusted node-proxy service accounts; it must be bound to a pod (the kubelet's projected tokens
 * are), and that pod must still exist with the same UID. The caller's node is that pod's node — never
 * something the caller says. Node authorization ({@code NodeAuthorizer}) then limits it to identities of
 * workloads on that node. Runs on gRPC's executor (it blocks on the API server).
 */
public final class TokenReviewAuthenticator implements CallerAuthenticator {

  public static final String AUDIENCE = "trellis-ca";
  static final String POD_NAME = "authentication.kubernetes.io/pod-name";
  static final String POD_UID = "authentication.kubernetes.io/pod-uid";
  private static final String SA_PREFIX = "system:serviceaccount:";

  private final KubernetesClient client;
  private final Set<String> trustedServiceAccounts;

  /** @param trustedServiceAccounts the node proxies' service accounts as {@code namespace/name} */
  public TokenReviewAuthenticator(KubernetesClient client, Set<String> trustedServiceAccounts) {
    this.client = requireNonNull(client, "client");
    this.trustedServiceAccounts = Set.copyOf(trustedServiceAccounts);
  }

  @Override
  public Caller authenticate(String bearerToken) {
    TokenReview review;
    try {
      review = client.resource(new TokenReviewBuilder().withNewSpec().withToken(bearerToken)
          .withAudiences(AUDIENCE).endSpec().build()).create();
    } catch (KubernetesClientException e) {
      throw new CaException(CaException.Reason.UNAUTHENTICATED, "the token could not be reviewed (TokenReview: "
          + e.getMessage() + "); the control plane needs RBAC to create tokenreviews");
    }
    var status = review.getStatus();
    if (status == null || !Boolean.TRUE.equals(status.getAuthenticated())) {
      throw new CaException(CaException.Reason.UNAUTHENTICATED, "the API server did not accept the token"
          + (status == null || status.getError() == null ? "" : ": " + status.getError())
          + " (node proxies send a projected service-account token with audience " + AUDIENCE + ")");
    }
    List<String> audiences = status.getAudiences();
    if (audiences != null && !audiences.isEmpty() && !audiences.contains(AUDIENCE)) {
      throw new CaException(CaException.Reason.UNAUTHENTICATED, "the token's audiences " + audiences + " do not include "
          + AUDIENCE);
    }
    String user = status.getUser() == null ? null : status.getUser().getUsername();
    if (user == null || !user.startsWith(SA_PREFIX) || user.substring(SA_PREFIX.length()).split(":").length != 2) {
      throw new CaException(CaException.Reason.UNAUTHENTICATED, "'" + user + "' is not a service account");
    }
    String[] sa = user.substring(SA_PREFIX.length()).split(":");
    String account = sa[0] + "/" + sa[1];
    if (!trustedServiceAccounts.contains(account)) {
      throw new CaException(CaException.Reason.UNAUTHENTICATED, "service account " + account + " is not a trusted node "
          + "proxy (trusted: " + trustedServiceAccounts + ")");
    }
    Map<String, List<String>> extra = status.getUser().getExtra() == null ? Map.of() : status.getUser().getExtra();
    String podName = first(extra.get(POD_NAME));
    String podUid = first(extra.get(POD_UID));
    if (podName == null || podUid == null) {
      throw new CaException(CaException.Reason.UNAUTHENTICATED, "the token of " + account + " is not bound to a pod "
          + "(use the kubelet's projected service-account token, not a long-lived secret)");
    }
    Pod pod;
    try {
      pod = client.pods().inNamespace(sa[0]).withName(podName).get();
    } catch (KubernetesClientException e) {
      throw new CaException(CaException.Reason.UNAUTHENTICATED, "looking up pod " + sa[0] + "/" + podName + " failed: "
          + e.getMessage());
    }
    if (pod == null || !podUid.equals(pod.getMetadata().getUid())) {
      throw new CaException(CaException.Reason.UNAUTHENTICATED, "the token is bound to pod " + sa[0] + "/" + podName
          + " (uid " + podUid + "), which " + (pod == null ? "no longer exists" : "was replaced (uid now "
              + pod.getMetadata().getUid() + ")"));
    }
    String node = pod.getSpec() == null ? null : pod.getSpec().getNodeName();
    if (node == null || node.isBlank()) {
      throw new CaException(CaException.Reason.UNAUTHENTICATED, "pod " + sa[0] + "/" + podName + " is not on a node");
    }
    return new Caller(node, "service account " + account + ", pod " + podName + " (uid " + podUid + ")");
  }

  private static String first(List<String> values) {
    return values == null || values.isEmpty() ? null : values.getFirst();
  }
}
