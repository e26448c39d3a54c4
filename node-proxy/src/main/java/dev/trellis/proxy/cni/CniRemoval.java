package dev.trellis.proxy.cni;

import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;

/**
 * Whether a node agent on its way out removes the CNI plugin. Removing it on every restart would let pods created
 * while the agent is away start outside the mesh, for good (the agent learns of pods from the plugin's calls). So in
 * a cluster the plugin stays chained while the agent's DaemonSet still exists — a rolling update, a deleted agent
 * pod: the plugin answers "try again later" and the kubelet retries those pods until the new agent is up — and is
 * removed when the DaemonSet is gone or being deleted (uninstall), or when that cannot be found out (RBAC already
 * removed by an uninstall, the API server unreachable): a plugin left chained with no agent would block every
 * new pod on the node.
 */
public final class CniRemoval {

  /** What to do, and why (for the log). */
  public record Decision(boolean remove, String reason) {}

  private CniRemoval() {}

  /** Pure: from what the API server said of the agent's DaemonSet. */
  static Decision decide(String daemonSet, boolean exists, boolean beingDeleted) {
    if (!exists) {
      return new Decision(true, "DaemonSet " + daemonSet + " is gone (uninstall)");
    }
    if (beingDeleted) {
      return new Decision(true, "DaemonSet " + daemonSet + " is being deleted (uninstall)");
    }
    return new Decision(false, "DaemonSet " + daemonSet + " still exists (a restart): the plugin stays chained and "
        + "pods created meanwhile wait for the next agent");
  }

  /**
   * Asks the API server about the DaemonSet that owns pod {@code namespace/pod} (this agent's pod).
   */
  public static Decision fetch(KubernetesClient client, String namespace, String pod) {
    try {
      Pod self = client.pods().inNamespace(namespace).withName(pod).get();
      if (self == null) {
        return new Decision(true, "this agent's pod " + namespace + "/" + pod + " is not found");
      }
      OwnerReference owner = self.getMetadata().getOwnerReferences() == null ? null : self.getMetadata()
          .getOwnerReferences().stream().filter(o -> "DaemonSet".equals(o.getKind())).findFirst().orElse(null);
      if (owner == null) {
        return new Decision(true, "this agent's pod is not run by a DaemonSet");
      }
      DaemonSet ds = client.apps().daemonSets().inNamespace(namespace).withName(owner.getName()).get();
      boolean sameOwner = ds != null && (owner.getUid() == null || owner.getUid().equals(ds.getMetadata().getUid()));
      return decide(namespace + "/" + owner.getName(), sameOwner,
          sameOwner && ds.getMetadata().getDeletionTimestamp() != null);
    } catch (KubernetesClientException e) {
      return new Decision(true, "the API server could not say whether this is an uninstall (" + e.getMessage() + ")");
    }
  }
}
