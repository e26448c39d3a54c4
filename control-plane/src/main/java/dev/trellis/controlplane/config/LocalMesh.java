package dev.trellis.controlplane.config;

import dev.trellis.controlplane.model.Mesh;
import dev.trellis.controlplane.model.ObjectRef;
import java.util.Map;

/**
 * A mesh file as {@code trellis up} reads it: the mesh, and the processes to run for workloads
 * that have a {@code run:} field (by namespace/name, in file order).
 */
public record LocalMesh(Mesh mesh, Map<ObjectRef, WorkloadRun> runs) {
  public LocalMesh {
    runs = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(runs));
  }
}
