package dev.trellis.cli.install;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ChartInstallTest {

  @TempDir
  Path dir;

  private Path chartAt(Path root) throws IOException {
    Path chart = root.resolve("charts/trellis");
    Files.createDirectories(chart);
    Files.writeString(chart.resolve("Chart.yaml"), "name: trellis\n");
    return chart;
  }

  @Test
  void theChartIsTheOptionThenTrellisHomeThenTheWorkingDirectoryOrAbove() throws IOException {
    Path home = chartAt(dir.resolve("home"));
    Path repo = chartAt(dir.resolve("repo"));
    Path deep = Files.createDirectories(dir.resolve("repo/control-plane/src"));

    assertThat(ChartInstall.findChart(repo, Map.of("TRELLIS_HOME", dir.resolve("home").toString()), deep))
        .isEqualTo(repo);
    assertThat(ChartInstall.findChart(null, Map.of("TRELLIS_HOME", dir.resolve("home").toString()), deep))
        .isEqualTo(home);
    assertThat(ChartInstall.findChart(null, Map.of(), deep)).isEqualTo(repo);
    assertThat(ChartInstall.findChart(null, Map.of("TRELLIS_HOME", dir.resolve("nothing").toString()), deep))
        .as("a TRELLIS_HOME without the chart falls back to the working directory").isEqualTo(repo);
  }

  @Test
  void aMissingChartNamesWhereItLookedAndTheFix() {
    assertThatThrownBy(() -> ChartInstall.findChart(null, Map.of(), dir))
        .hasMessageContaining("the chart charts/trellis was not found (TRELLIS_HOME=unset, nor above " + dir)
        .hasMessageContaining("pass --chart DIR");
    assertThatThrownBy(() -> ChartInstall.findChart(dir, Map.of(), dir))
        .hasMessage("--chart " + dir + ": no Chart.yaml there (expected the charts/trellis folder of a Trellis checkout)");
  }

  @Test
  void theKubeconfigIsTheOptionThenTheFirstOfKubeconfigThenTheDefault() {
    Path home = Path.of("/home/ops");

    assertThat(ChartInstall.chooseKubeconfig(Path.of("/x/kc"), Map.of("KUBECONFIG", "/y"), home))
        .isEqualTo(new ChartInstall.Kubeconfig(Path.of("/x/kc"), "--kubeconfig"));
    assertThat(ChartInstall.chooseKubeconfig(null, Map.of("KUBECONFIG", ":/a/one:/b/two"), home))
        .isEqualTo(new ChartInstall.Kubeconfig(Path.of("/a/one"), "$KUBECONFIG"));
    assertThat(ChartInstall.chooseKubeconfig(null, Map.of("KUBECONFIG", " "), home))
        .isEqualTo(new ChartInstall.Kubeconfig(Path.of("/home/ops/.kube/config"), "the default"));
  }

  @Test
  void helmFailuresAreExplainedWithTheKubeconfigAndTheFix() {
    ChartInstall.Kubeconfig kc = new ChartInstall.Kubeconfig(Path.of("/k/config"), "$KUBECONFIG");

    assertThat(ChartInstall.explain("install", new IllegalStateException(
        "Kubernetes cluster unreachable: Get \"https://10.0.0.1:6443/version\": dial tcp 10.0.0.1:6443: connect: "
            + "connection refused"), kc))
        .startsWith("cannot reach the cluster of kubeconfig /k/config ($KUBECONFIG): Kubernetes cluster unreachable")
        .endsWith("(kubectl --kubeconfig /k/config cluster-info), or pass --kubeconfig FILE");
    assertThat(ChartInstall.explain("uninstall", new IllegalStateException("uninstall: Release not loaded: trellis: "
        + "release: not found"), kc)).startsWith("nothing to uninstall with kubeconfig /k/config ($KUBECONFIG)");
    assertThat(ChartInstall.explain("install", new IllegalStateException("values don't meet the specifications\n"
        + "- controlPlane.replicas: Invalid type"), kc))
        .isEqualTo("helm install failed with kubeconfig /k/config ($KUBECONFIG): values don't meet the "
            + "specifications; - controlPlane.replicas: Invalid type");
  }
}
