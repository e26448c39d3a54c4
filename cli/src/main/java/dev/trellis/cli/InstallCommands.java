package dev.trellis.cli;

import com.marcnuri.helm.Release;
import dev.trellis.cli.install.ChartInstall;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code trellis install} and {@code trellis uninstall}: the Helm chart on a real cluster, without a helm binary. */
final class InstallCommands {

  private InstallCommands() {}

  /** Where the release lives; shared by install and uninstall. */
  static final class Target {
    @Option(names = {"-n", "--namespace"}, paramLabel = "NS", defaultValue = "trellis-system",
        description = "Namespace of the release, created if missing (default: ${DEFAULT-VALUE}).")
    String namespace;

    @Option(names = "--release", paramLabel = "NAME", defaultValue = "trellis", description = "Helm release name (default: ${DEFAULT-VALUE}).")
    String release;

    @Option(names = "--kubeconfig", paramLabel = "FILE",
        description = "Cluster to use (default: the first file of $KUBECONFIG, else ~/.kube/config).")
    Path kubeconfig;

    ChartInstall.Kubeconfig chooseKubeconfig() {
      return ChartInstall.chooseKubeconfig(kubeconfig, System.getenv(), Path.of(System.getProperty("user.home")));
    }
  }

  @Command(name = "install", mixinStandardHelpOptions = true, description = {
      "Install Trellis on a cluster from the Helm chart charts/trellis.",
      "",
      "Control plane Deployment, node proxy DaemonSet with the CNI installer,",
      "RBAC, CRDs. --dry-run prints the manifests instead and needs no cluster.", ""})
  static final class Install implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin Target target;

    @Option(names = {"-f", "--values"}, paramLabel = "FILE", description = "A values file (repeatable; later wins).")
    List<Path> values = new ArrayList<>();

    @Option(names = "--set", paramLabel = "KEY=VALUE", mapFallbackValue = "",
        description = "A chart value, e.g. --set controlPlane.replicas=1 (repeatable).")
    Map<String, String> sets = new LinkedHashMap<>();

    @Option(names = "--chart", paramLabel = "DIR",
        description = "The chart folder (default: $TRELLIS_HOME/charts/trellis, set by ./trellis).")
    Path chart;

    @Option(names = "--dry-run", description = "Render and print the manifests (for Kubernetes "
        + ChartInstall.DRY_RUN_KUBE_VERSION + "); no cluster is contacted.")
    boolean dryRun;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      ChartInstall.Request request = new ChartInstall.Request(
          ChartInstall.findChart(chart, System.getenv(), Path.of("")), target.release, target.namespace, values, sets);
      if (dryRun) {
        out.print(ChartInstall.render(request));
        out.flush();
        return 0;
      }
      ChartInstall.Kubeconfig kubeconfig = target.chooseKubeconfig();
      Release release = ChartInstall.install(request, kubeconfig);
      out.println("installed release " + release.getName() + " (chart " + release.getChart() + ") in namespace "
          + release.getNamespace() + ", status " + release.getStatus() + ", using " + kubeconfig.path());
      out.println("Next: label a namespace to enroll it: kubectl label namespace NS trellis.dev/mesh=enabled");
      return 0;
    }
  }

  @Command(name = "uninstall", mixinStandardHelpOptions = true, description = {
      "Remove the Trellis release from a cluster.",
      "",
      "The CRDs and their resources stay (kubectl delete crd -l",
      "app.kubernetes.io/part-of=trellis deletes them and every policy);",
      "node agents unchain the CNI plugin as their DaemonSet goes away.", ""})
  static final class Uninstall implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin Target target;

    @Override
    public Integer call() {
      ChartInstall.Kubeconfig kubeconfig = target.chooseKubeconfig();
      String result = ChartInstall.uninstall(target.release, target.namespace, kubeconfig);
      spec.commandLine().getOut().println(result == null || result.isBlank()
          ? "uninstalled release " + target.release + " from namespace " + target.namespace : result.strip());
      return 0;
    }
  }
}
