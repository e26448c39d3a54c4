package dev.trellis.cli.check;

import dev.trellis.cli.check.ClusterFacts.Rollout;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.VersionInfo;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/** Reads {@link ClusterFacts} through a Kubernetes client; every decision is in {@link ClusterCheck}. */
public final class ClusterFactsReader {

  private ClusterFactsReader() {}

  public static ClusterFacts fetch(KubernetesClient client, String namespace) {
    String server = client.getMasterUrl().toString();
    Optional<String> version;
    try {
      VersionInfo info = client.getKubernetesVersion();
      version = Optional.ofNullable(info).map(v -> v.getMajor() + "." + v.getMinor().replaceAll("[^0-9]", ""));
    } catch (KubernetesClientException e) {
      if (e.getCode() == 0) {
        return ClusterFacts.unreachable(server, cause(e));
      }
      version = Optional.empty();
    }
    try {
      Set<String> crds = client.apiextensions().v1().customResourceDefinitions().list().getItems().stream()
          .map(c -> c.getMetadata().getName()).collect(Collectors.toSet());
      Deployment cp = client.apps().deployments().inNamespace(namespace).withName("trellis-control-plane").get();
      DaemonSet np = client.apps().daemonSets().inNamespace(namespace).withName("trellis-node-proxy").get();
      return new ClusterFacts(server, Optional.empty(), version, crds,
          Optional.ofNullable(cp).map(d -> new Rollout(orZero(d.getSpec().getReplicas()),
              d.getStatus() == null ? 0 : orZero(d.getStatus().getReadyReplicas()))),
          Optional.ofNullable(np).map(d -> d.getStatus() == null ? new Rollout(0, 0)
              : new Rollout(orZero(d.getStatus().getDesiredNumberScheduled()), orZero(d.getStatus().getNumberReady()))),
          client.namespaces().withLabel("trellis.dev/mesh", "enabled").list().getItems().stream()
              .map(HasMetadata::getMetadata).map(m -> m.getName()).sorted().toList());
    } catch (KubernetesClientException e) {
      return ClusterFacts.unreachable(server, e.getCode() == 0 ? cause(e)
          : "it refused the request (HTTP " + e.getCode() + "): " + e.getMessage());
    }
  }

  private static int orZero(Integer n) {
    return n == null ? 0 : n;
  }

  private static String cause(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    String m = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
    return t == e ? m : e.getMessage() + " (" + m + ")";
  }
}
