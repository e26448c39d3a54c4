package dev.trellis.ca.store;

import java.util.Optional;

/**
 * Where a CA keeps its material across restarts: files in local mode ({@link FileCaStore}), a Kubernetes Secret in
 * a cluster (control-plane's {@code SecretCaStore}).
 * Implementations must make {@link #createIfAbsent} atomic, so that several control-plane replicas
 * racing at first start end up with one root.
 */
public interface CaStore {

  /** The stored material, or empty if this CA was never initialized. */
  Optional<CaMaterial> load();

  /**
   * Stores {@code material} unless material already exists; returns what is stored afterwards
   * (ours, or the winner's if another writer got there first).
   */
  CaMaterial createIfAbsent(CaMaterial material);

  /** Replaces the stored material (rotation steps). */
  void update(CaMaterial material);

  /** Where the material lives, for messages. */
  String describe();
}
