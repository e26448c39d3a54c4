package dev.trellis.controlplane.cli;

import dev.trellis.controlplane.check.HostCheck;
import dev.trellis.controlplane.check.HostFactsReader;
import dev.trellis.controlplane.check.MeshCheck;
import dev.trellis.controlplane.check.PortProbe;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code trellis check}: is a mesh file valid (and will it work locally)? Is this host ready for capture? */
@Command(name = "check", description = {
    "trellis check MESH_FILE: print every error in the mesh file (file:line:column: field: problem) and",
    "  warnings about what parses but will not work in local mode. Exit 1 on errors (warnings do not fail).",
    "trellis check --host: is this machine ready for transparent capture (kernel, cgroup v2, bpffs, libbpf,",
    "  privileges, kernel config, nft, CNI directories)? Each check ok / warning / missing with its fix;",
    "  exit 1 when capture cannot work here, not even with the nftables fallback.",
    "Both may be given at once."})
final class CheckCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Parameters(index = "0", arity = "0..1", paramLabel = "MESH_FILE",
      description = "The mesh file to check, e.g. examples/mesh.yaml.")
  Path meshFile;

  @Option(names = "--host", description = "Check this machine (a node) for transparent capture.")
  boolean host;

  @Option(names = "--cni-conf-dir", defaultValue = "/etc/cni/net.d", paramLabel = "DIR",
      description = "With --host: the node's CNI configuration directory (default: ${DEFAULT-VALUE}).")
  Path cniConfDir;

  @Option(names = "--cni-bin-dir", defaultValue = "/opt/cni/bin", paramLabel = "DIR",
      description = "With --host: the node's CNI plugin directory (default: ${DEFAULT-VALUE}).")
  Path cniBinDir;

  @Override
  public Integer call() {
    if (meshFile == null && !host) {
      throw new ParameterException(spec.commandLine(), "give a mesh file to check, --host, or both");
    }
    int exit = 0;
    if (meshFile != null) {
      exit = Math.max(exit, checkMesh(spec.commandLine().getOut()));
    }
    if (host) {
      exit = Math.max(exit, checkHost(spec.commandLine().getOut()));
    }
    return exit;
  }

  private int checkMesh(PrintWriter out) {
    MeshCheck.Report report = MeshCheck.check(meshFile, PortProbe.bind());
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
    return report.ready() ? 0 : 1;
  }

  static String plural(int n, String word) {
    return n + " " + word + (n == 1 ? "" : "s");
  }
}
