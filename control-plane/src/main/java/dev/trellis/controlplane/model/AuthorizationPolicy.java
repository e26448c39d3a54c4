package dev.trellis.controlplane.model;

import java.util.List;
import java.util.Map;

/**
 * Identity-based allow/deny for the workloads a selector picks (AuthorizationPolicy,
 * mesh.trellis.dev/v1alpha1). A request matches a rule if it comes from one of {@code from}
 * (SPIFFE IDs or {@code ns/<namespace>}; empty = anyone) and targets one of {@code ports},
 * {@code methods}, {@code paths} (each empty = any).
 */
public record AuthorizationPolicy(String name, String namespace, Map<String, String> selector, Action action,
    List<Rule> rules) {

  public AuthorizationPolicy {
    selector = Map.copyOf(selector);
    rules = List.copyOf(rules);
  }

  public enum Action {
    ALLOW,
    DENY
  }

  public record Rule(List<String> from, List<Integer> ports, List<String> methods, List<String> paths) {
    public Rule {
      from = List.copyOf(from);
      ports = List.copyOf(ports);
      methods = List.copyOf(methods);
      paths = List.copyOf(paths);
    }
  }
}
