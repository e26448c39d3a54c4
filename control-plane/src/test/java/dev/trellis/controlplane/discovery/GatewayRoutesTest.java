package dev.trellis.controlplane.discovery;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.controlplane.model.HttpRoute;
import dev.trellis.controlplane.model.ObjectRef;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRoute;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteBuilder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class GatewayRoutesTest {

  /** web-split: /api to v1 (80) and v2 (20), 5s timeout, retries on 503; attached to Service web port 80 and a Gateway. */
  static HTTPRoute split(int v1, int v2) {
    return new HTTPRouteBuilder().withNewMetadata().withNamespace("demo").withName("web-split").endMetadata()
        .withNewSpec()
        .addNewParentRef().withKind("Service").withGroup("").withName("web").withPort(80).endParentRef()
        .addNewParentRef().withKind("Gateway").withGroup("gateway.networking.k8s.io").withName("public").endParentRef()
        .addNewRule()
        .addNewMatch().withNewPath().withType("PathPrefix").withValue("/api").endPath()
        .addNewHeader().withName("x-canary").withValue("yes").endHeader().withMethod("GET").endMatch()
        .addNewBackendRef().withName("web-v1").withPort(80).withWeight(v1).endBackendRef()
        .addNewBackendRef().withName("web-v2").withPort(80).withWeight(v2).endBackendRef()
        .withNewTimeouts().withRequest("5s").endTimeouts()
        .withNewRetry().withAttempts(3).withCodes(503).withBackoff("100ms").endRetry()
        .endRule()
        .endSpec().build();
  }

  @Test
  void aServiceParentGivesOneMeshRouteWithMatchesWeightsTimeoutAndRetries() {
    GatewayRoutes.Translation t = GatewayRoutes.translate(split(80, 20));
    assertThat(t.problems()).isEmpty();
    assertThat(t.routes()).singleElement().satisfies(r -> {
      assertThat(r.service()).isEqualTo(new ObjectRef("demo", "web"));
      assertThat(r.port()).isEqualTo(80);
      HttpRoute.Rule rule = r.rules().getFirst();
      assertThat(rule.matches()).containsExactly(new HttpRoute.Match(new HttpRoute.PathMatch(HttpRoute.PathType.PREFIX,
          "/api"), List.of(new HttpRoute.HeaderMatch("x-canary", HttpRoute.HeaderType.EXACT, "yes")), "GET"));
      assertThat(rule.backends()).containsExactly(new HttpRoute.Backend(new ObjectRef("demo", "web-v1"), 80, 80),
          new HttpRoute.Backend(new ObjectRef("demo", "web-v2"), 80, 20));
      assertThat(rule.timeout()).isEqualTo(Duration.ofSeconds(5));
      assertThat(rule.retry().attempts()).isEqualTo(3);
      assertThat(rule.retry().statusCodes()).containsExactly(503);
      assertThat(rule.retry().backoffBase()).isEqualTo(Duration.ofMillis(100));
    });
  }

  @Test
  void whatTheMeshCannotHonourIsNamedAndLeftOut() {
    HTTPRoute route = new HTTPRouteBuilder(split(1, 1)).editSpec()
        .addNewRule().addNewMatch().addNewQueryParam().withName("v").withValue("2").endQueryParam().endMatch()
        .addNewBackendRef().withName("web-v2").endBackendRef().endRule()
        .addNewRule().addNewBackendRef().withName("web-v1").withNamespace("other").endBackendRef()
        .addNewBackendRef().withName("bucket").withKind("Bucket").endBackendRef()
        .addNewBackendRef().withName("web-v2").endBackendRef()
        .withNewTimeouts().withRequest("5 seconds").endTimeouts().endRule()
        .endSpec().build();
    GatewayRoutes.Translation t = GatewayRoutes.translate(route);
    assertThat(t.problems()).extracting(GatewayRoutes.Problem::message).containsExactly(
        "spec.rules[1].matches[0].queryParams: query parameter matches are not supported; rule skipped",
        "spec.rules[2].backendRefs[0].namespace: 'other' is another namespace (ReferenceGrant is not supported yet; "
            + "the backend is left out)",
        "spec.rules[2].backendRefs[1].kind: 'Bucket' (only Service backends are supported)",
        "spec.rules[2].timeouts.request: '5 seconds' is not a Gateway API duration (e.g. 10s, 500ms, 1h30m)");
    HttpRoute r = t.routes().getFirst();
    assertThat(r.rules()).hasSize(2);
    assertThat(r.rules().get(1).backends()).containsExactly(new HttpRoute.Backend(new ObjectRef("demo", "web-v2"), null, 1));
  }

  @Test
  void durationsFollowGep2257() {
    List<GatewayRoutes.Problem> problems = new ArrayList<>();
    assertThat(GatewayRoutes.duration("1h30m", "x", problems)).isEqualTo(Duration.ofMinutes(90));
    assertThat(GatewayRoutes.duration("500ms", "x", problems)).isEqualTo(Duration.ofMillis(500));
    assertThat(GatewayRoutes.duration("1h1m1s1ms", "x", problems)).isEqualTo(Duration.ofMillis(3_661_001));
    assertThat(problems).isEmpty();
    assertThat(GatewayRoutes.duration("1.5s", "x", problems)).isNull();
    assertThat(GatewayRoutes.duration("", "x", problems)).isNull();
    assertThat(problems).hasSize(2);
  }
}
