package dev.trellis.controlplane.model;

import java.util.Objects;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A service: a stable name (and virtual IP) in front of the workloads its selector picks.
 *
 * @param vip the virtual IP clients dial, or null if the service has none (headless)
 */
public record Service(String name, String namespace, String vip, Map<String, String> selector, List<ServicePort> ports) {

  public Service {
    selector = Map.copyOf(selector);
    ports = List.copyOf(ports);
  }

  // equals and hashCode written out: a record's generated ones run through method handles, which the control plane's
  // C1-only JIT does not inline, and translation cache keys hash and compare these for every workload on each change.

  @Override
  public boolean equals(Object o) {
    return this == o || o instanceof Service s && Objects.equals(name, s.name)
        && Objects.equals(namespace, s.namespace) && Objects.equals(vip, s.vip) && selector.equals(s.selector) && ports.equals(s.ports);
  }

  @Override
  public int hashCode() {
    int h = Objects.hashCode(name);
    h = 31 * h + Objects.hashCode(namespace);
    h = 31 * h + Objects.hashCode(vip);
    h = 31 * h + selector.hashCode();
    return 31 * h + ports.hashCode();
  }

  public ObjectRef ref() {
    return new ObjectRef(namespace, name);
  }

  public Optional<ServicePort> port(int number) {
    return ports.stream().filter(p -> p.port() == number).findFirst();
  }
}
