package dev.trellis.proxy.redirect;

import java.util.Map;

/**
 * Whether a pod's traffic goes through the mesh, from its namespace's and its own labels (DESIGN.md:
 * namespace label {@code trellis.dev/mesh=enabled} enrolls; pod label {@code trellis.dev/mesh=disabled}
 * opts one pod out). Pods on the host network share the node's network namespace and cannot be
 * redirected per pod, so they are never enrolled. Pure.
 */
public final class Enrollment {

  public static final String LABEL = "trellis.dev/mesh";

  /** The decision, with the reason in words (logged, and returned to the CNI plugin). */
  public record Decision(boolean enrolled, String reason) {}

  private Enrollment() {}

  public static Decision decide(String namespace, Map<String, String> namespaceLabels, Map<String, String> podLabels,
      boolean hostNetwork) {
    if (hostNetwork) {
      return new Decision(false, "pod uses the host network");
    }
    if ("disabled".equals(podLabels.get(LABEL))) {
      return new Decision(false, "pod is labeled " + LABEL + "=disabled");
    }
    if ("enabled".equals(namespaceLabels.get(LABEL))) {
      return new Decision(true, "namespace " + namespace + " is labeled " + LABEL + "=enabled");
    }
    return new Decision(false, "namespace " + namespace + " is not labeled " + LABEL + "=enabled");
  }
}
