package dev.trellis.cli.check;

import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * What {@link ClusterCheck} looks at, as plain values ({@link ClusterFactsReader} reads them through the API server).
 *
 * @param server the API server's URL, as the kubeconfig names it
 * @param unreachable why the API server could not be asked; empty when it answered
 * @param version the API server's version ({@code 1.31}), empty when unknown
 * @param crds names of the CustomResourceDefinitions installed
 * @param controlPlane the control plane Deployment, if it exists
 * @param nodeProxies the node proxy DaemonSet, if it exists
 * @param meshNamespaces namespaces labeled {@code trellis.dev/mesh=enabled}
 */
public record ClusterFacts(String server, Optional<String> unreachable, Optional<String> version, Set<String> crds,
    Optional<Rollout> controlPlane, Optional<Rollout> nodeProxies, List<String> meshNamespaces) {

  public ClusterFacts {
    crds = Set.copyOf(crds);
    meshNamespaces = List.copyOf(meshNamespaces);
  }

  /** A workload's pods: how many should run and how many are ready. */
  public record Rollout(int desired, int ready) {}

  public static ClusterFacts unreachable(String server, String why) {
    return new ClusterFacts(server, Optional.of(why), Optional.empty(), Set.of(), Optional.empty(), Optional.empty(),
        List.of());
  }
}
