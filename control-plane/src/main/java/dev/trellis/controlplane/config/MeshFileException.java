package dev.trellis.controlplane.config;

import java.util.List;

/** A mesh file that cannot be used; {@link #problems()} lists each one as {@code file:line:column: field: message}. */
public final class MeshFileException extends Exception {

  private final List<String> problems;

  public MeshFileException(List<String> problems) {
    super(problems.size() == 1 ? problems.getFirst()
        : problems.size() + " problems:\n  " + String.join("\n  ", problems));
    this.problems = List.copyOf(problems);
  }

  public List<String> problems() {
    return problems;
  }
}
