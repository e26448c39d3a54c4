package dev.trellis.cli.check;

import dev.trellis.cli.local.LocalMesh;
import dev.trellis.controlplane.config.MeshFileException;
import dev.trellis.controlplane.model.Mesh;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code trellis check FILE}: every error the control plane would refuse the mesh file for, and warnings about what
 * parses but will not work in local mode.
 */
public final class MeshCheck {

  /**
   * The outcome: {@code errors} and {@code warnings} one line each ({@code file:line:column: ...}); {@code summary}
   * counts what a valid file declares (empty when there are errors).
   */
  public record Report(List<String> errors, List<String> warnings, String summary) {
    public Report {
      errors = List.copyOf(errors);
      warnings = List.copyOf(warnings);
    }

    public boolean ok() {
      return errors.isEmpty();
    }
  }

  private MeshCheck() {}

  /** Checks the file at {@code file}; {@code ports} tells which node proxy ports are taken. */
  public static Report check(Path file, PortProbe ports) {
    Mesh mesh;
    try {
      mesh = LocalMesh.load(file).mesh();
    } catch (MeshFileException e) {
      return new Report(e.problems(), List.of(), "");
    }
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      text = "";
    }
    return new Report(List.of(), MeshWarnings.of(mesh, YamlPositions.of(text, file.toString()), ports), summary(mesh));
  }

  /** {@code 2 nodes, 4 workloads, 4 services, 1 route, 0 policies, 0 authorizations}. */
  static String summary(Mesh mesh) {
    return count(mesh.nodes().size(), "node", "nodes") + ", " + count(mesh.workloads().size(), "workload", "workloads")
        + ", " + count(mesh.services().size(), "service", "services") + ", "
        + count(mesh.routes().size(), "route", "routes") + ", " + count(mesh.policies().size(), "policy", "policies")
        + ", " + count(mesh.authorizations().size(), "authorization", "authorizations");
  }

  static String count(int n, String one, String many) {
    return n + " " + (n == 1 ? one : many);
  }
}
