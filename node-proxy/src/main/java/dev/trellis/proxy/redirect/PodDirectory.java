package dev.trellis.proxy.redirect;

import java.util.Map;
import java.util.Optional;

/**
 * Where the node agent learns what it needs to decide enrollment: the pod's labels and its namespace's
 * (Kubernetes informers in a cluster; the mesh file's workloads in local mode).
 */
public interface PodDirectory {

  /** A pod as the directory knows it. */
  record Pod(String namespace, String name, String uid, Map<String, String> labels, Map<String, String> namespaceLabels,
      boolean hostNetwork, Map<String, String> annotations) {
    public Pod {
      labels = Map.copyOf(labels);
      namespaceLabels = Map.copyOf(namespaceLabels);
      annotations = Map.copyOf(annotations);
    }

    /** A pod without annotations. */
    public Pod(String namespace, String name, String uid, Map<String, String> labels, Map<String, String> namespaceLabels,
        boolean hostNetwork) {
      this(namespace, name, uid, labels, namespaceLabels, hostNetwork, Map.of());
    }
  }

  /** The pod by namespace and name (and uid, when the runtime gave one: a recreated pod has a new uid). */
  Optional<Pod> find(String namespace, String name, String uid);
}
