package dev.trellis.controlplane.discovery;

import dev.trellis.controlplane.model.HttpRoute;
import dev.trellis.controlplane.model.ObjectRef;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRoute;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.ParentReference;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.RouteParentStatus;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.RouteParentStatusBuilder;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The status an HTTPRoute's Service parents get from Trellis, per the Gateway API: for each parent Service,
 * {@code Accepted} (True, or False/NoMatchingParent when the Service does not exist), {@code ResolvedRefs}
 * (False with RefNotPermitted, InvalidKind or BackendNotFound naming the backends, else True) and, when rules
 * or values were left out, {@code PartiallyInvalid} (True/UnsupportedValue). Parents of other controllers
 * (Gateways) keep their entries untouched. Pure; {@link #sameConditions} lets the writer skip no-op updates.
 */
public final class RouteStatus {

  public static final String CONTROLLER = "trellis.dev/mesh";

  private RouteStatus() {}

  /** The parents' statuses for {@code route}, given the Services that exist; {@code now} stamps changed conditions. */
  public static List<RouteParentStatus> parents(HTTPRoute route, GatewayRoutes.Translation translation,
      Set<ObjectRef> services, Instant now) {
    String ns = route.getMetadata().getNamespace();
    Long generation = route.getMetadata().getGeneration();
    List<RouteParentStatus> out = new ArrayList<>();
    if (route.getStatus() != null && route.getStatus().getParents() != null) {
      route.getStatus().getParents().stream().filter(p -> !CONTROLLER.equals(p.getControllerName())).forEach(out::add);
    }
    List<String> missing = new ArrayList<>();
    for (HttpRoute r : translation.routes()) {
      for (HttpRoute.Rule rule : r.rules()) {
        for (HttpRoute.Backend b : rule.backends()) {
          if (!services.contains(b.service()) && !missing.contains(b.service().name())) {
            missing.add(b.service().name());
          }
        }
      }
    }
    for (ParentReference p : route.getSpec().getParentRefs()) {
      if (!"Service".equals(p.getKind())) {
        continue;
      }
      ObjectRef parent = new ObjectRef(p.getNamespace() == null ? ns : p.getNamespace(), p.getName());
      List<Condition> conditions = new ArrayList<>();
      conditions.add(services.contains(parent)
          ? condition("Accepted", "True", "Accepted", "attached to Service " + parent.name(), generation, now)
          : condition("Accepted", "False", "NoMatchingParent", "Service " + parent + " does not exist", generation, now));
      conditions.add(resolvedRefs(translation.problems(), missing, generation, now));
      List<String> dropped = translation.problems().stream()
          .filter(x -> x.kind() == GatewayRoutes.ProblemKind.RULE_DROPPED || x.kind() == GatewayRoutes.ProblemKind.INVALID_VALUE)
          .map(GatewayRoutes.Problem::message).toList();
      if (!dropped.isEmpty()) {
        conditions.add(condition("PartiallyInvalid", "True", "UnsupportedValue", String.join("; ", dropped), generation,
            now));
      }
      out.add(new RouteParentStatusBuilder().withParentRef(p).withControllerName(CONTROLLER).withConditions(conditions)
          .build());
    }
    return out;
  }

  private static Condition resolvedRefs(List<GatewayRoutes.Problem> problems, List<String> missing, Long generation,
      Instant now) {
    for (GatewayRoutes.ProblemKind kind : List.of(GatewayRoutes.ProblemKind.REF_NOT_PERMITTED,
        GatewayRoutes.ProblemKind.INVALID_KIND)) {
      String messages = problems.stream().filter(x -> x.kind() == kind).map(GatewayRoutes.Problem::message)
          .collect(Collectors.joining("; "));
      if (!messages.isEmpty()) {
        return condition("ResolvedRefs", "False", kind == GatewayRoutes.ProblemKind.REF_NOT_PERMITTED ? "RefNotPermitted"
            : "InvalidKind", messages, generation, now);
      }
    }
    if (!missing.isEmpty()) {
      return condition("ResolvedRefs", "False", "BackendNotFound", "backend Services not found: "
          + String.join(", ", missing), generation, now);
    }
    return condition("ResolvedRefs", "True", "ResolvedRefs", "all backends resolved", generation, now);
  }

  private static Condition condition(String type, String status, String reason, String message, Long generation,
      Instant now) {
    return new ConditionBuilder().withType(type).withStatus(status).withReason(reason).withMessage(message)
        .withObservedGeneration(generation).withLastTransitionTime(now.toString()).build();
  }

  /** Whether two parent lists say the same (ignoring transition times): no status write needed. */
  public static boolean sameConditions(List<RouteParentStatus> a, List<RouteParentStatus> b) {
    return strip(a).equals(strip(b));
  }

  private static List<String> strip(List<RouteParentStatus> parents) {
    List<String> out = new ArrayList<>();
    for (RouteParentStatus p : parents == null ? List.<RouteParentStatus>of() : parents) {
      StringBuilder s = new StringBuilder(p.getControllerName() + "|" + p.getParentRef());
      for (Condition c : p.getConditions() == null ? List.<Condition>of() : p.getConditions()) {
        s.append('|').append(c.getType()).append('=').append(c.getStatus()).append('/').append(c.getReason()).append('/')
            .append(c.getMessage()).append('/').append(c.getObservedGeneration());
      }
      out.add(s.toString());
    }
    return out;
  }
}
