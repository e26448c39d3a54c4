package dev.trellis.cli;

import dev.trellis.cli.check.ClusterCheck;
import dev.trellis.cli.check.ClusterFactsReader;
import dev.trellis.cli.check.HostCheck;
import dev.trellis.cli.check.HostFactsReader;
import dev.trellis.cli.check.MeshCheck;
import dev.trellis.cli.check.PortProbe;
import dev.trellis.cli.install.ChartInstall;
import dev.trellis.cli.local.LocalMesh;
import dev.trellis.controlplane.config.MeshFileException;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code trellis check}: is a mesh file valid (and will it work locally)? Is this host ready for capture? */
@Command(name = "check", mixinStandardHelpOptions = true, description = {
    "Check a mesh file, this host, or a cluster; exit 1 when something is wrong.",
    "",
    "MESH_FILE  every error (file:line:column: field: problem), then warnings",
    "           about what will not work in local mode (they do not fail).",
    "--netns    with MESH_FILE: check it for 'trellis up --netns' instead (routable",
    "           addresses, one /24 for the nodes); each problem is an error.",
    "--host     is this machine ready for transparent capture? Kernel, cgroup v2,",
    "           bpffs, libbpf, privileges, kernel config, nft, CNI directories:",
    "           ok / warning / missing, each with its fix. Exit 1 only when",
    "           capture cannot work, not even with the nftables fallback",
    "           (missing CNI directories matter on a Kubernetes node only:",
    "           a warning).",
    "--cluster  is Trellis installed on the kubeconfig's cluster? API server,",
    "           version, CRDs, control plane, node proxies, enrolled namespaces.",
    "They may be combined.", ""})
final class CheckCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Parameters(index = "0", arity = "0..1", paramLabel = "MESH_FILE",
      description = "The mesh file to check, e.g. examples/mesh.yaml.")
  Path meshFile;

  @Option(names = "--netns", description = "With MESH_FILE: check it for 'trellis up --netns' (network namespaces).")
  boolean netns;

  @Option(names = "--host", description = "Check this machine (a node) for transparent capture.")
  boolean host;

  @Option(names = "--cni-conf-dir", defaultValue = "/etc/cni/net.d", paramLabel = "DIR",
      description = "With --host: the node's CNI configuration directory (default: ${DEFAULT-VALUE}).")
  Path cniConfDir;

  @Option(names = "--cni-bin-dir", defaultValue = "/opt/cni/bin", paramLabel = "DIR",
      description = "With --host: the node's CNI plugin directory (default: ${DEFAULT-VALUE}).")
  Path cniBinDir;

  @Option(names = "--cluster", description = "Check the cluster of the kubeconfig.")
  boolean cluster;

  @Option(names = "--kubeconfig", paramLabel = "FILE", description = "With --cluster: the cluster to check "
      + "(default: the first file of $KUBECONFIG, else ~/.kube/config).")
  Path kubeconfig;

  @Option(names = {"-n", "--namespace"}, paramLabel = "NS", defaultValue = "trellis-system", description = "With --cluster: Trellis's "
      + "namespace (default: ${DEFAULT-VALUE}).")
  String namespace;

  @Override
  public Integer call() throws IOException {
    if (netns && meshFile == null) {
      throw new ParameterException(spec.commandLine(), "--netns checks a mesh file: give one, e.g. trellis check "
          + "--netns examples/netns/mesh.yaml");
    }
    if (meshFile == null && !host && !cluster) {
      throw new ParameterException(spec.commandLine(), "give a mesh file to check, --host, --cluster, or several");
    }
    int exit = 0;
    if (meshFile != null) {
      exit = Math.max(exit, checkMesh(spec.commandLine().getOut()));
    }
    if (host) {
      exit = Math.max(exit, checkHost(spec.commandLine().getOut()));
    }
    if (cluster) {
      exit = Math.max(exit, checkCluster(spec.commandLine().getOut()));
    }
    return exit;
  }

  private int checkCluster(PrintWriter out) throws IOException {
    ChartInstall.Kubeconfig kc = ChartInstall.chooseKubeconfig(kubeconfig, System.getenv(),
        Path.of(System.getProperty("user.home")));
    if (!Files.isRegularFile(kc.path())) {
      throw new ChartInstall.InstallException("no kubeconfig at " + kc.path() + " (" + kc.source() + "); pass "
          + "--kubeconfig FILE or set KUBECONFIG to the cluster's kubeconfig", null);
    }
    Config config = Config.fromKubeconfig(null, Files.readString(kc.path()), kc.path().toString());
    // An operator waits for an answer: no retries with backoff, short timeouts.
    config.setRequestRetryBackoffLimit(0);
    config.setConnectionTimeout(5_000);
    config.setRequestTimeout(10_000);
    try (KubernetesClient client = new KubernetesClientBuilder().withConfig(config).build()) {
      out.println("cluster of kubeconfig " + kc.path() + " (" + kc.source() + "):");
      ClusterCheck.Report report = ClusterCheck.decide(ClusterFactsReader.fetch(client, namespace), namespace);
      report.lines().forEach(out::println);
      return report.ready() ? 0 : 1;
    }
  }

  private int checkMesh(PrintWriter out) {
    MeshCheck.Report report = MeshCheck.check(meshFile, PortProbe.bind());
    if (netns && report.ok()) {
      // Namespace mode replaces local mode's loopback warnings with its own rules, which are errors.
      List<String> problems;
      try {
        problems = NetnsPlan.problems(LocalMesh.load(meshFile).mesh());
      } catch (MeshFileException e) {
        problems = e.problems();
      }
      problems.forEach(p -> out.println(meshFile + ": " + p));
      if (!problems.isEmpty()) {
        out.println(meshFile + ": " + plural(problems.size(), "error") + " for --netns");
        return 1;
      }
      out.println("ok for --netns: " + report.summary());
      return 0;
    }
    report.errors().forEach(out::println);
    report.warnings().forEach(out::println);
    String warnings = report.warnings().isEmpty() ? "" : ", " + plural(report.warnings().size(), "warning");
    if (!report.ok()) {
      out.println(meshFile + ": " + plural(report.errors().size(), "error") + warnings);
      return 1;
    }
    out.println("ok: " + report.summary() + warnings);
    return 0;
  }

  private int checkHost(PrintWriter out) {
    HostCheck.Report report = HostCheck.decide(HostFactsReader.fetch(cniConfDir, cniBinDir));
    report.lines().forEach(out::println);
    return report.exitCode();
  }

  static String plural(int n, String word) {
    return n + " " + word + (n == 1 ? "" : "s");
  }
}
