package dev.trellis.proxy.state;

import java.util.List;
import java.util.Set;

/**
 * An authorization policy selecting a local workload, as the Trellis {@code Workload} resource
 * carries it (see workload.proto for the semantics).
 */
public record AuthorizationSpec(String name, Action action, List<Rule> rules) {

  public AuthorizationSpec {
    rules = List.copyOf(rules);
  }

  public enum Action {
    ALLOW,
    DENY
  }

  /**
   * Every non-empty field must match.
   *
   * @param identities caller SPIFFE IDs
   * @param namespaces caller namespaces ({@code ns/<namespace>} in the policy)
   * @param paths exact paths, or prefixes when ending in {@code *}
   */
  public record Rule(Set<String> identities, Set<String> namespaces, Set<Integer> ports, Set<String> methods,
      List<String> paths) {
    public Rule {
      identities = Set.copyOf(identities);
      namespaces = Set.copyOf(namespaces);
      ports = Set.copyOf(ports);
      methods = Set.copyOf(methods);
      paths = List.copyOf(paths);
    }

    public boolean hasFrom() {
      return !identities.isEmpty() || !namespaces.isEmpty();
    }

    /** Whether the rule names HTTP attributes, which only a parsed request can match. */
    public boolean isHttp() {
      return !methods.isEmpty() || !paths.isEmpty();
    }
  }
}
