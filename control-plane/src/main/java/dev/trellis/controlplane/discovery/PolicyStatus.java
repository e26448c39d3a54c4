package dev.trellis.controlplane.discovery;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The {@code status.conditions} our CRDs get (a {@code metav1.Condition} list with one condition, {@code Accepted}).
 * Pure: the next status from a verdict, and whether it differs from what the object already says — so an
 * unchanged verdict causes no write, and {@code lastTransitionTime} moves only when the status flips.
 */
final class PolicyStatus {

  static final String ACCEPTED = "Accepted";

  private PolicyStatus() {}

  /** The object's status as it should be; {@code now} stamps a transition. */
  static Map<String, Object> next(GenericKubernetesResource current, MeshPolicies.Verdict verdict, Instant now) {
    String status = verdict.accepted() ? "True" : "False";
    Map<String, Object> previous = accepted(current);
    String since = previous != null && status.equals(previous.get("status")) && previous.get("lastTransitionTime") != null
        ? String.valueOf(previous.get("lastTransitionTime")) : now.truncatedTo(ChronoUnit.SECONDS).toString();
    Map<String, Object> condition = new LinkedHashMap<>();
    condition.put("type", ACCEPTED);
    condition.put("status", status);
    condition.put("reason", verdict.reason());
    condition.put("message", truncate(verdict.message()));
    if (verdict.generation() != null) {
      condition.put("observedGeneration", verdict.generation());
    }
    condition.put("lastTransitionTime", since);
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("conditions", List.of(condition));
    return out;
  }

  /** Whether {@code current} already carries this verdict (type, status, reason, message, generation). */
  static boolean upToDate(GenericKubernetesResource current, MeshPolicies.Verdict verdict) {
    Map<String, Object> c = accepted(current);
    if (c == null) {
      return false;
    }
    Object generation = c.get("observedGeneration");
    return Objects.equals(c.get("status"), verdict.accepted() ? "True" : "False")
        && Objects.equals(c.get("reason"), verdict.reason())
        && Objects.equals(c.get("message"), truncate(verdict.message()))
        && Objects.equals(generation == null ? null : ((Number) generation).longValue(), verdict.generation());
  }

  private static Map<String, Object> accepted(GenericKubernetesResource r) {
    if (!(r.getAdditionalProperties().get("status") instanceof Map<?, ?> status)
        || !(status.get("conditions") instanceof List<?> conditions)) {
      return null;
    }
    for (Object o : conditions) {
      if (o instanceof Map<?, ?> m && ACCEPTED.equals(m.get("type"))) {
        @SuppressWarnings("unchecked")
        Map<String, Object> typed = (Map<String, Object>) m;
        return typed;
      }
    }
    return null;
  }

  /** metav1.Condition caps messages at 32768 characters. */
  private static String truncate(String message) {
    return message.length() <= 32_768 ? message : message.substring(0, 32_765) + "...";
  }
}
