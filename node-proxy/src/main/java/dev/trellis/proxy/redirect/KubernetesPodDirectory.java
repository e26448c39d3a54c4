package dev.trellis.proxy.redirect;

import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node agent's pod directory in a cluster: Fabric8 shared informers on this node's pods (field selector
 * {@code spec.nodeName=<node>}) and on the namespaces (for their labels). A change that can move a pod in or out
 * of the mesh — a pod added, deleted or relabeled, its annotations or host networking changed, a namespace's
 * labels changed — is announced to the {@link #onChange} listeners (on an informer thread: they should only hand
 * the work on), as a changed pods file is in local mode. Pod status updates, the bulk of the watch traffic, are not.
 *
 * <p>Cgroups are found by the kubelet's layout for the pod's UID under the cgroup v2 mount ({@link
 * CgroupResolver#kubelet}). Thread-safe: lookups read the informers' stores.
 */
public final class KubernetesPodDirectory implements PodDirectory, CgroupResolver, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(KubernetesPodDirectory.class);

  private final String node;
  private final SharedIndexInformer<io.fabric8.kubernetes.api.model.Pod> pods;
  private final SharedIndexInformer<Namespace> namespaces;
  private final CgroupResolver kubelet;
  private final CopyOnWriteArrayList<Runnable> listeners = new CopyOnWriteArrayList<>();

  private KubernetesPodDirectory(String node, KubernetesClient client, CgroupResolver kubelet) {
    this.node = node;
    this.kubelet = kubelet;
    // Both informers are created stopped, get their handlers, then list and watch (run() returns once listed).
    this.namespaces = client.namespaces().runnableInformer(0);
    this.pods = client.pods().inAnyNamespace().withField("spec.nodeName", node).runnableInformer(0);
  }

  /**
   * Lists this node's pods and the namespaces, then keeps watching them.
   *
   * @param node this node's name ({@code spec.nodeName} of its pods)
   * @param cgroupRoot the cgroup v2 mount the kubelet's pod directories are under, or null if there is none
   *     (nftables needs no cgroups)
   * @throws IllegalStateException if the API server cannot be listed (unreachable, or RBAC refuses)
   */
  public static KubernetesPodDirectory start(KubernetesClient client, String node, Path cgroupRoot) {
    Objects.requireNonNull(node, "node");
    KubernetesPodDirectory d = new KubernetesPodDirectory(node, client,
        cgroupRoot == null ? CgroupResolver.none() : CgroupResolver.kubelet(cgroupRoot));
    d.namespaces.addEventHandler(d.handler(n -> n.getMetadata().getLabels()));
    d.pods.addEventHandler(d.handler(KubernetesPodDirectory::enrollmentInputs));
    try {
      d.namespaces.run();
      d.pods.run();
    } catch (RuntimeException e) {
      d.close();
      throw new IllegalStateException("cannot list the pods of node " + node + " and the namespaces from the API "
          + "server: " + e.getMessage() + " (the node agent's service account needs get/list/watch on pods and "
          + "namespaces)", e);
    }
    log.info("watching the pods of node {} ({} listed) and {} namespaces", node, d.pods.getStore().list().size(),
        d.namespaces.getStore().list().size());
    return d;
  }

  /** Calls {@code listener} after every change that can alter a pod's enrollment or its exclusions. */
  public void onChange(Runnable listener) {
    listeners.add(Objects.requireNonNull(listener, "listener"));
  }

  /** Whether both informers have listed their resources once. */
  public boolean synced() {
    return pods.hasSynced() && namespaces.hasSynced();
  }

  /** What of a pod enrollment and its redirection depend on; a status-only update leaves it equal. */
  private static Object enrollmentInputs(io.fabric8.kubernetes.api.model.Pod p) {
    return java.util.Arrays.asList(p.getMetadata().getUid(), p.getMetadata().getLabels(),
        p.getMetadata().getAnnotations(), p.getSpec() == null ? null : p.getSpec().getHostNetwork(),
        p.getSpec() == null ? null : p.getSpec().getNodeName());
  }

  private <T> ResourceEventHandler<T> handler(Function<T, Object> inputs) {
    return new ResourceEventHandler<>() {
      @Override
      public void onAdd(T obj) {
        changed();
      }

      @Override
      public void onUpdate(T before, T after) {
        if (!Objects.equals(inputs.apply(before), inputs.apply(after))) {
          changed();
        }
      }

      @Override
      public void onDelete(T obj, boolean deletedFinalStateUnknown) {
        changed();
      }
    };
  }

  private void changed() {
    for (Runnable l : listeners) {
      try {
        l.run();
      } catch (RuntimeException e) {
        log.warn("pod directory listener failed: {}", e.toString());
      }
    }
  }

  @Override
  public Optional<PodDirectory.Pod> find(String namespace, String name, String uid) {
    io.fabric8.kubernetes.api.model.Pod p = pods.getStore().getByKey(namespace + "/" + name);
    if (p == null || p.getSpec() == null || !node.equals(p.getSpec().getNodeName())) {
      return Optional.empty(); // the field selector already filters; this keeps a lax API server honest
    }
    String podUid = p.getMetadata().getUid();
    if (uid != null && podUid != null && !uid.equals(podUid)) {
      return Optional.empty(); // a recreated pod of the same name is another pod
    }
    Namespace ns = namespaces.getStore().getByKey(namespace);
    return Optional.of(new PodDirectory.Pod(namespace, name, podUid, orEmpty(p.getMetadata().getLabels()),
        ns == null ? Map.of() : orEmpty(ns.getMetadata().getLabels()), Boolean.TRUE.equals(p.getSpec().getHostNetwork()),
        orEmpty(p.getMetadata().getAnnotations())));
  }

  /** The kubelet's cgroup directory for the pod's UID (from the runtime, else from the API server). */
  @Override
  public Optional<String> find(PodAttachment a, Optional<PodDirectory.Pod> pod) {
    Optional<PodDirectory.Pod> known = pod.isPresent() || a.namespace() == null ? pod
        : find(a.namespace(), a.pod(), a.podUid());
    return kubelet.find(a, known);
  }

  private static Map<String, String> orEmpty(Map<String, String> m) {
    return m == null ? Map.of() : m;
  }

  /** Whether either informer has a watch open (for tests that wait for a clean close). */
  boolean watching() {
    return pods.isWatching() || namespaces.isWatching();
  }

  /** Whether both informers have their watch open. */
  boolean watchingBoth() {
    return pods.isWatching() && namespaces.isWatching();
  }

  @Override
  public void close() {
    pods.close();
    namespaces.close();
  }
}
