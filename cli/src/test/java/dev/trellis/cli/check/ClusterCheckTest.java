package dev.trellis.cli.check;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.cli.check.ClusterCheck.Finding;
import dev.trellis.cli.check.ClusterFacts.Rollout;
import dev.trellis.cli.check.HostCheck.Status;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionBuilder;
import io.fabric8.kubernetes.api.model.apps.DaemonSetBuilder;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

@EnableKubernetesMockClient(crud = true)
class ClusterCheckTest {

  KubernetesClient client;

  static final Set<String> ALL_CRDS = Set.of("trafficpolicies.mesh.trellis.dev", "peerauthentications.mesh.trellis.dev",
      "authorizationpolicies.mesh.trellis.dev", "httproutes.gateway.networking.k8s.io");

  static ClusterFacts installed() {
    return new ClusterFacts("https://10.0.0.1:6443/", Optional.empty(), Optional.of("1.31"), ALL_CRDS,
        Optional.of(new Rollout(2, 2)), Optional.of(new Rollout(3, 3)), List.of("demo"));
  }

  static Finding finding(ClusterFacts facts, String check) {
    return ClusterCheck.decide(facts, "trellis-system").findings().stream().filter(f -> f.check().equals(check))
        .findFirst().orElseThrow();
  }

  @Test
  void anInstalledClusterIsReadyWithEveryCheckOk() {
    ClusterCheck.Report report = ClusterCheck.decide(installed(), "trellis-system");

    assertThat(report.findings()).extracting(Finding::check).containsExactlyElementsOf(ClusterCheck.CHECKS);
    assertThat(report.findings()).allSatisfy(f -> assertThat(f.status()).as(f.toString()).isEqualTo(Status.OK));
    assertThat(report.ready()).isTrue();
    assertThat(report.lines()).last().isEqualTo("cluster: ready");
  }

  @Test
  void anUnreachableApiServerIsTheOnlyFindingAndNamesTheServer() {
    ClusterCheck.Report report = ClusterCheck.decide(ClusterFacts.unreachable("https://10.0.0.1:6443/",
        "connection refused"), "trellis-system");

    assertThat(report.ready()).isFalse();
    assertThat(report.findings()).singleElement().satisfies(f -> {
      assertThat(f.status()).isEqualTo(Status.MISSING);
      assertThat(f.detail()).isEqualTo("cannot use https://10.0.0.1:6443/: connection refused");
      assertThat(f.fix()).contains("--kubeconfig FILE");
    });
  }

  @Test
  void eachGapIsReportedWithItsFix() {
    Set<String> noTrellisCrd = new HashSet<>(ALL_CRDS);
    noTrellisCrd.remove("peerauthentications.mesh.trellis.dev");
    ClusterFacts base = installed();

    assertThat(finding(new ClusterFacts(base.server(), Optional.empty(), Optional.of("1.25"), base.crds(),
        base.controlPlane(), base.nodeProxies(), base.meshNamespaces()), "kubernetes version"))
        .extracting(Finding::status, Finding::detail).containsExactly(Status.MISSING, "1.25 (the chart needs 1.27 or newer)");
    assertThat(finding(new ClusterFacts(base.server(), Optional.empty(), base.version(), noTrellisCrd,
        base.controlPlane(), base.nodeProxies(), base.meshNamespaces()), "trellis crds"))
        .extracting(Finding::status, Finding::detail, Finding::fix).containsExactly(Status.MISSING,
            "not installed: peerauthentications.mesh.trellis.dev", "./trellis install -n trellis-system (the chart "
                + "installs them from crds/)");
    assertThat(finding(new ClusterFacts(base.server(), Optional.empty(), base.version(),
        Set.of("trafficpolicies.mesh.trellis.dev"), base.controlPlane(), base.nodeProxies(), base.meshNamespaces()),
        "gateway api").status()).isEqualTo(Status.WARNING);
    assertThat(finding(new ClusterFacts(base.server(), Optional.empty(), base.version(), base.crds(), Optional.empty(),
        Optional.of(new Rollout(3, 1)), List.of()), "control plane"))
        .extracting(Finding::status, Finding::detail).containsExactly(Status.MISSING,
            "Deployment trellis-system/trellis-control-plane not found");
    assertThat(finding(new ClusterFacts(base.server(), Optional.empty(), base.version(), base.crds(), Optional.empty(),
        Optional.of(new Rollout(3, 1)), List.of()), "node proxies"))
        .extracting(Finding::status, Finding::detail).containsExactly(Status.WARNING,
            "DaemonSet trellis-system/trellis-node-proxy: 1/3 ready");
    assertThat(finding(new ClusterFacts(base.server(), Optional.empty(), base.version(), base.crds(),
        base.controlPlane(), base.nodeProxies(), List.of()), "enrolled namespaces"))
        .extracting(Finding::status, Finding::fix).containsExactly(Status.WARNING,
            "kubectl label namespace NS trellis.dev/mesh=enabled");
  }

  @Test
  void theReaderSeesWhatTheApiServerHolds() {
    for (String crd : List.of("trafficpolicies.mesh.trellis.dev", "httproutes.gateway.networking.k8s.io")) {
      String plural = crd.substring(0, crd.indexOf('.'));
      client.apiextensions().v1().customResourceDefinitions().resource(new CustomResourceDefinitionBuilder()
          .withNewMetadata().withName(crd).endMetadata().withNewSpec().withGroup(crd.substring(plural.length() + 1))
          .withScope("Namespaced").withNewNames().withPlural(plural).withKind("K" + plural).endNames()
          .addNewVersion().withName("v1").withServed(true).withStorage(true).endVersion().endSpec().build()).create();
    }
    client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName("demo")
        .addToLabels("trellis.dev/mesh", "enabled").endMetadata().build()).create();
    client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName("other").endMetadata().build())
        .create();
    client.apps().deployments().inNamespace("trellis-system").resource(new DeploymentBuilder().withNewMetadata()
        .withName("trellis-control-plane").endMetadata().withNewSpec().withReplicas(2).endSpec()
        .withNewStatus().withReadyReplicas(1).endStatus().build()).create();
    client.apps().daemonSets().inNamespace("trellis-system").resource(new DaemonSetBuilder().withNewMetadata()
        .withName("trellis-node-proxy").endMetadata().withNewStatus().withDesiredNumberScheduled(3).withNumberReady(3)
        .endStatus().build()).create();

    ClusterFacts facts = ClusterFactsReader.fetch(client, "trellis-system");

    assertThat(facts.unreachable()).isEmpty();
    assertThat(facts.crds()).containsExactlyInAnyOrder("trafficpolicies.mesh.trellis.dev",
        "httproutes.gateway.networking.k8s.io");
    assertThat(facts.controlPlane()).contains(new Rollout(2, 1));
    assertThat(facts.nodeProxies()).contains(new Rollout(3, 3));
    assertThat(facts.meshNamespaces()).containsExactly("demo");
    ClusterCheck.Report report = ClusterCheck.decide(facts, "trellis-system");
    assertThat(report.ready()).as("two Trellis CRDs are missing").isFalse();
    assertThat(report.lines()).contains("warning  control plane      Deployment trellis-system/trellis-control-plane: "
        + "1/2 ready");
  }

  @Test
  void theReaderReportsAnUnreachableServer() throws Exception {
    int closed;
    try (var s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      closed = s.getLocalPort();
    }
    var config = new io.fabric8.kubernetes.client.ConfigBuilder().withMasterUrl("https://127.0.0.1:" + closed)
        .withRequestRetryBackoffLimit(0).withConnectionTimeout(5_000).build();
    try (KubernetesClient gone = new io.fabric8.kubernetes.client.KubernetesClientBuilder().withConfig(config).build()) {
      ClusterFacts facts = ClusterFactsReader.fetch(gone, "trellis-system");

      assertThat(facts.server()).contains("127.0.0.1:" + closed);
      assertThat(facts.unreachable()).isPresent();
    }
  }
}
