package dev.trellis.controlplane.model;

import java.util.Objects;

/** A namespaced name, as Kubernetes objects have: {@code <namespace>/<name>}. */
public record ObjectRef(String namespace, String name) implements Comparable<ObjectRef> {

  // equals and hashCode written out: a record's generated ones run through method handles, which the control plane's
  // C1-only JIT does not inline, and translation cache keys hash and compare these for every workload on each change.

  @Override
  public boolean equals(Object o) {
    return this == o || o instanceof ObjectRef r && Objects.equals(name, r.name) && Objects.equals(namespace, r.namespace);
  }

  @Override
  public int hashCode() {
    return Objects.hashCode(namespace) * 31 + Objects.hashCode(name);
  }

  @Override
  public int compareTo(ObjectRef o) {
    int c = namespace.compareTo(o.namespace);
    return c != 0 ? c : name.compareTo(o.name);
  }

  @Override
  public String toString() {
    return namespace + "/" + name;
  }
}
