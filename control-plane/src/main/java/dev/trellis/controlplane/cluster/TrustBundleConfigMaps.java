package dev.trellis.controlplane.cluster;

import static java.util.Objects.requireNonNull;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.NonDeletingOperation;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes the mesh's trust bundle (PEM roots) as the ConfigMap {@value #NAME} (key {@value #KEY}) in the control
 * plane's namespace — where node proxies mount it to trust 15012 — and in every enrolled namespace, for workloads
 * that verify mesh certificates themselves. Idempotent: a ConfigMap is written only where it is missing or
 * differs; ConfigMaps it made in namespaces that left the mesh are removed (found by label, so a user's
 * ConfigMap of the same name is never touched). Run by the leader only.
 *
 * <p>Every call names {@value #NAME} (list included, by field selector), so the chart's ClusterRole grants
 * get/list/update/delete on that name only; {@code create} cannot be limited by name in RBAC (docs/security.md).
 */
public final class TrustBundleConfigMaps {

  private static final Logger log = LoggerFactory.getLogger(TrustBundleConfigMaps.class);
  public static final String NAME = "trellis-ca-root-cert";
  public static final String KEY = "root-cert.pem";
  static final String MANAGED_BY = "app.kubernetes.io/managed-by";
  static final String COMPONENT = "app.kubernetes.io/component";

  private final KubernetesClient client;
  private final String ownNamespace;

  public TrustBundleConfigMaps(KubernetesClient client, String ownNamespace) {
    this.client = requireNonNull(client, "client");
    this.ownNamespace = requireNonNull(ownNamespace, "ownNamespace");
  }

  /** Brings the ConfigMaps in line with {@code rootsPem}; returns how many were created, updated or deleted. */
  public int sync(String rootsPem, Set<String> enrolledNamespaces) {
    Set<String> wanted = new TreeSet<>(enrolledNamespaces);
    wanted.add(ownNamespace);
    Map<String, ConfigMap> ours = new HashMap<>();
    // Selected by name as well as by label: a list that selects metadata.name is one RBAC can confine to that name
    // (resourceNames), so the control plane needs no right to read every ConfigMap in the cluster.
    for (ConfigMap cm : client.configMaps().inAnyNamespace().withField("metadata.name", NAME)
        .withLabel(MANAGED_BY, "trellis").withLabel(COMPONENT, "trust-bundle").list().getItems()) {
      ours.put(cm.getMetadata().getNamespace(), cm);
    }
    int changes = 0;
    for (String ns : wanted) {
      ConfigMap existing = ours.get(ns);
      if (existing != null && rootsPem.equals(existing.getData() == null ? null : existing.getData().get(KEY))) {
        continue;
      }
      ConfigMap desired = new ConfigMapBuilder().withNewMetadata().withNamespace(ns).withName(NAME)
          .addToLabels(MANAGED_BY, "trellis").addToLabels(COMPONENT, "trust-bundle").endMetadata()
          .addToData(KEY, rootsPem).build();
      try {
        client.configMaps().inNamespace(ns).resource(desired).createOr(NonDeletingOperation::update);
        changes++;
      } catch (KubernetesClientException e) {
        log.warn("publishing the trust bundle to ConfigMap {}/{} failed (will retry on the next change): {}", ns, NAME,
            e.getMessage());
      }
    }
    for (var e : ours.entrySet()) {
      if (!wanted.contains(e.getKey())) {
        try {
          client.configMaps().inNamespace(e.getKey()).withName(NAME).delete();
          changes++;
        } catch (KubernetesClientException ex) {
          log.warn("removing ConfigMap {}/{} failed: {}", e.getKey(), NAME, ex.getMessage());
        }
      }
    }
    return changes;
  }
}
