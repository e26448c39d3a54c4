package dev.trellis.controlplane.cli;

import dev.trellis.controlplane.check.MeshCheck;
import dev.trellis.controlplane.check.PortProbe;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code trellis check}: is a mesh file valid (and will it work locally)? */
@Command(name = "check", description = {
    "Check a mesh file: print every error (file:line:column: field: problem) and warnings about what parses",
    "but will not work in local mode. Exit code 0 when the file is valid (warnings allowed), 1 otherwise."})
final class CheckCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "MESH_FILE", description = "The mesh file to check, e.g. examples/mesh.yaml.")
  Path meshFile;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
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

  static String plural(int n, String word) {
    return n + " " + word + (n == 1 ? "" : "s");
  }
}
