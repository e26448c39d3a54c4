package dev.trellis.controlplane.discovery;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.controlplane.model.ObjectRef;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRoute;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteBuilder;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.RouteParentStatus;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.RouteParentStatusBuilder;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class RouteStatusTest {

  static final Instant NOW = Instant.parse("2026-11-22T12:00:00Z");
  static final Set<ObjectRef> ALL = Set.of(new ObjectRef("demo", "web"), new ObjectRef("demo", "web-v1"),
      new ObjectRef("demo", "web-v2"));

  static String conditions(RouteParentStatus p) {
    StringBuilder b = new StringBuilder();
    for (Condition c : p.getConditions()) {
      b.append(c.getType()).append('=').append(c.getStatus()).append('/').append(c.getReason()).append(' ');
    }
    return b.toString().strip();
  }

  @Test
  void aRouteWhoseParentAndBackendsExistIsAcceptedWithItsRefsResolvedAndGatewayParentsAreLeftAlone() {
    HTTPRoute route = GatewayRoutesTest.split(80, 20);
    RouteParentStatus gateways = new RouteParentStatusBuilder().withControllerName("example.com/gateway")
        .withNewParentRef().withKind("Gateway").withName("public").endParentRef().build();
    route.setStatus(new io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteStatus(List.of(gateways)));
    List<RouteParentStatus> parents = RouteStatus.parents(route, GatewayRoutes.translate(route), ALL, NOW);
    assertThat(parents).hasSize(2);
    assertThat(parents.get(0)).isSameAs(gateways);
    assertThat(parents.get(1).getControllerName()).isEqualTo("trellis.dev/mesh");
    assertThat(parents.get(1).getParentRef().getName()).isEqualTo("web");
    assertThat(conditions(parents.get(1))).isEqualTo("Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs");
    assertThat(parents.get(1).getConditions().getFirst().getLastTransitionTime()).isEqualTo("2026-11-22T12:00:00Z");
  }

  @Test
  void missingParentsAndBackendsAndForbiddenOrUnsupportedPartsAreReportedWithTheirGatewayApiReasons() {
    HTTPRoute route = GatewayRoutesTest.split(80, 20);
    List<RouteParentStatus> noService = RouteStatus.parents(route, GatewayRoutes.translate(route),
        Set.of(new ObjectRef("demo", "web-v1")), NOW);
    assertThat(conditions(noService.getFirst()))
        .isEqualTo("Accepted=False/NoMatchingParent ResolvedRefs=False/BackendNotFound");
    assertThat(noService.getFirst().getConditions().get(1).getMessage()).isEqualTo("backend Services not found: web-v2");

    HTTPRoute partly = new HTTPRouteBuilder(route).editSpec()
        .addNewRule().addNewMatch().addNewQueryParam().withName("v").withValue("2").endQueryParam().endMatch().endRule()
        .addNewRule().addNewBackendRef().withName("web-v1").withNamespace("other").endBackendRef().endRule()
        .endSpec().build();
    List<RouteParentStatus> p = RouteStatus.parents(partly, GatewayRoutes.translate(partly), ALL, NOW);
    assertThat(conditions(p.getFirst()))
        .isEqualTo("Accepted=True/Accepted ResolvedRefs=False/RefNotPermitted PartiallyInvalid=True/UnsupportedValue");
  }

  @Test
  void theSameConditionsAtAnotherTimeNeedNoWrite() {
    HTTPRoute route = GatewayRoutesTest.split(80, 20);
    var a = RouteStatus.parents(route, GatewayRoutes.translate(route), ALL, NOW);
    var b = RouteStatus.parents(route, GatewayRoutes.translate(route), ALL, NOW.plusSeconds(60));
    var c = RouteStatus.parents(route, GatewayRoutes.translate(route), Set.of(), NOW);
    assertThat(RouteStatus.sameConditions(a, b)).isTrue();
    assertThat(RouteStatus.sameConditions(a, c)).isFalse();
    assertThat(RouteStatus.sameConditions(null, a)).isFalse();
  }
}
