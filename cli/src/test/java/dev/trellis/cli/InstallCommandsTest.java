package dev.trellis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code trellis install/uninstall} with the real chart; no cluster runs here, so a real install must fail clearly. */
class InstallCommandsTest {

  static final Path CHART = Stream.iterate(Path.of("").toAbsolutePath(), p -> p != null, Path::getParent)
      .map(p -> p.resolve("charts/trellis")).filter(p -> Files.isRegularFile(p.resolve("Chart.yaml"))).findFirst()
      .orElseThrow();

  @TempDir
  Path dir;

  @Test
  void dryRunPrintsTheControlPlaneDeploymentAndNodeProxyDaemonSetInTheGivenNamespace() {
    CliRun r = CliRun.run("install", "--dry-run", "--chart", CHART.toString(), "--namespace", "mesh-test",
        "--set", "controlPlane.replicas=3");

    assertThat(r.exit()).as(r.err()).isZero();
    String[] docs = r.out().split("(?m)^---$");
    assertThat(docs).anySatisfy(d -> assertThat(d).contains("kind: Deployment", "name: trellis-control-plane",
        "namespace: mesh-test", "replicas: 3"));
    assertThat(docs).anySatisfy(d -> assertThat(d).contains("kind: DaemonSet", "name: trellis-node-proxy",
        "namespace: mesh-test"));
    assertThat(r.out()).doesNotContain("namespace: trellis-system");
    assertThat(docs).as("the CRDs come first, as install applies them first").filteredOn(
        d -> d.contains("kind: CustomResourceDefinition")).hasSize(3).allSatisfy(d -> assertThat(d)
        .contains("# Source: trellis/crds/").contains("group: mesh.trellis.dev"));
  }

  @Test
  void dryRunReadsValuesFiles() throws Exception {
    Path values = dir.resolve("values.yaml");
    Files.writeString(values, "controlPlane:\n  replicas: 5\n");

    CliRun r = CliRun.run("install", "--dry-run", "--chart", CHART.toString(), "-f", values.toString());

    assertThat(r.exit()).as(r.err()).isZero();
    assertThat(r.out()).contains("replicas: 5", "namespace: trellis-system");
  }

  @Test
  void aValueTheChartRefusesIsAnErrorNotAStackTrace() {
    CliRun r = CliRun.run("install", "--dry-run", "--chart", CHART.toString(), "--set", "controlPlane.replicaz=1");

    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.err()).startsWith("error: the chart " + CHART + " did not render: ").contains("replicaz")
        .doesNotContain("\tat ");
  }

  @Test
  void installWithoutAKubeconfigNamesThePathAndTheFix() {
    Path missing = dir.resolve("no-such-kubeconfig");

    CliRun r = CliRun.run("install", "--chart", CHART.toString(), "--kubeconfig", missing.toString());

    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.err()).isEqualTo("error: no kubeconfig at " + missing + " (--kubeconfig); pass --kubeconfig FILE or "
        + "set KUBECONFIG to the cluster's kubeconfig\n");
  }

  @Test
  void installAgainstAnUnreachableClusterNamesTheKubeconfigAndTheFix() throws Exception {
    int closed;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closed = s.getLocalPort();
    }
    Path kubeconfig = dir.resolve("kubeconfig");
    Files.writeString(kubeconfig, """
        apiVersion: v1
        kind: Config
        clusters:
          - name: gone
            cluster: {server: "https://127.0.0.1:%d", insecure-skip-tls-verify: true}
        users:
          - name: me
            user: {token: not-a-real-token}
        contexts:
          - name: gone
            context: {cluster: gone, user: me}
        current-context: gone
        """.formatted(closed));

    CliRun install = CliRun.run("install", "--chart", CHART.toString(), "--kubeconfig", kubeconfig.toString());
    CliRun uninstall = CliRun.run("uninstall", "--kubeconfig", kubeconfig.toString());

    assertThat(install.exit()).isEqualTo(1);
    assertThat(install.err()).startsWith("error: cannot reach the cluster of kubeconfig " + kubeconfig
        + " (--kubeconfig): ").contains("127.0.0.1:" + closed).contains("cluster-info").doesNotContain("\tat ");
    assertThat(uninstall.exit()).isEqualTo(1);
    assertThat(uninstall.err()).startsWith("error: cannot reach the cluster of kubeconfig " + kubeconfig);
  }
}
