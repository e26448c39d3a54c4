package dev.trellis.controlplane.model;

/** A namespaced name, as Kubernetes objects have: {@code <namespace>/<name>}. */
public record ObjectRef(String namespace, String name) implements Comparable<ObjectRef> {

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
