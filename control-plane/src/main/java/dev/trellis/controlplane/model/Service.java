package dev.trellis.controlplane.model;

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

  public ObjectRef ref() {
    return new ObjectRef(namespace, name);
  }

  public Optional<ServicePort> port(int number) {
    return ports.stream().filter(p -> p.port() == number).findFirst();
  }
}
