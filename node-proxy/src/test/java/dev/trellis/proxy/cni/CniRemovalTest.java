package dev.trellis.proxy.cni;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.DaemonSetBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import org.junit.jupiter.api.Test;

/**
 * A stopping agent keeps the CNI plugin through a restart and removes it on an uninstall; against Fabric8's mock API
 * server in CRUD mode (no real cluster runs here).
 */
@EnableKubernetesMockClient(crud = true)
class CniRemovalTest {

  KubernetesClient client;

  DaemonSet daemonSet() {
    return client.apps().daemonSets().inNamespace("trellis-system").resource(new DaemonSetBuilder().withNewMetadata()
        .withName("trellis-node-proxy").withNamespace("trellis-system").endMetadata().withNewSpec().withNewSelector()
        .addToMatchLabels("app", "trellis").endSelector().endSpec().build()).create();
  }

  void agentPod(DaemonSet owner) {
    PodBuilder b = new PodBuilder().withNewMetadata().withName("trellis-node-proxy-x7k2p").withNamespace("trellis-system")
        .endMetadata();
    if (owner != null) {
      b.editMetadata().addNewOwnerReference().withApiVersion("apps/v1").withKind("DaemonSet")
          .withName(owner.getMetadata().getName()).withUid(owner.getMetadata().getUid()).endOwnerReference()
          .endMetadata();
    }
    client.pods().inNamespace("trellis-system").resource(b.build()).create();
  }

  CniRemoval.Decision decision() {
    return CniRemoval.fetch(client, "trellis-system", "trellis-node-proxy-x7k2p");
  }

  @Test
  void aRestartKeepsThePluginChained() {
    agentPod(daemonSet());
    assertThat(decision().remove()).isFalse();
    assertThat(decision().reason()).contains("still exists (a restart)");
  }

  @Test
  void anUninstallRemovesIt() {
    DaemonSet ds = daemonSet();
    agentPod(ds);
    client.apps().daemonSets().inNamespace("trellis-system").withName("trellis-node-proxy").delete();
    assertThat(decision().remove()).isTrue();
    assertThat(decision().reason()).contains("is gone (uninstall)");
  }

  @Test
  void aDaemonSetOfTheSameNameButAnotherUidIsNotOurs() {
    DaemonSet ds = daemonSet();
    agentPod(ds);
    client.apps().daemonSets().inNamespace("trellis-system").withName("trellis-node-proxy").delete();
    daemonSet(); // reinstalled meanwhile: a new uid, and new agents of its own
    assertThat(decision().remove()).isTrue();
  }

  @Test
  void whenItCannotBeToldThePluginGoesRatherThanBlockEveryNewPod() {
    agentPod(null);
    assertThat(decision().remove()).isTrue();
    assertThat(CniRemoval.fetch(client, "trellis-system", "no-such-pod").remove()).isTrue();
  }

  @Test
  void theDecisionItself() {
    assertThat(CniRemoval.decide("ns/ds", true, false).remove()).isFalse();
    assertThat(CniRemoval.decide("ns/ds", true, true).remove()).as("being deleted").isTrue();
    assertThat(CniRemoval.decide("ns/ds", false, false).remove()).isTrue();
  }
}
