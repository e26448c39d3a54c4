package dev.trellis.cli.local;

import dev.trellis.controlplane.config.MeshFile;
import dev.trellis.controlplane.config.MeshFileException;
import dev.trellis.controlplane.model.Mesh;
import dev.trellis.controlplane.model.ObjectRef;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A mesh file as {@code trellis up} reads it: the mesh, and the processes to run for workloads
 * that have a {@code run:} field (by namespace/name, in file order). The control plane parses the same file and
 * leaves {@code run:} alone; here {@link RunSection} parses it, its problems reported with the file's others.
 */
public record LocalMesh(Mesh mesh, Map<ObjectRef, WorkloadRun> runs) {
  public LocalMesh {
    runs = Collections.unmodifiableMap(new LinkedHashMap<>(runs));
  }

  /** The mesh file at {@code file}, with its workloads' {@code run:} fields. */
  public static LocalMesh load(Path file) throws MeshFileException {
    return of(MeshFile.load(file, RunSection::parse));
  }

  /** Like {@link MeshFile#parse(String, String, Path)}, with the workloads' {@code run:} fields. */
  public static LocalMesh parse(String text, String label, Path baseDir) throws MeshFileException {
    return of(MeshFile.parse(text, label, baseDir, RunSection::parse));
  }

  private static LocalMesh of(MeshFile.Parsed<WorkloadRun> parsed) {
    return new LocalMesh(parsed.mesh(), parsed.runs());
  }
}
