package dev.trellis.controlplane.model;

import java.time.Duration;
import java.util.List;

/**
 * Gateway API HTTPRoute attached to a service (the GAMMA mesh profile): rules matched in order,
 * each sending to weighted backends with optional timeout and retries.
 *
 * @param port the service port the route attaches to, or null for every HTTP port
 */
public record HttpRoute(String name, String namespace, ObjectRef service, Integer port, List<Rule> rules) {

  public HttpRoute {
    rules = List.copyOf(rules);
  }

  public ObjectRef ref() {
    return new ObjectRef(namespace, name);
  }

  /** One rule: any of its matches (none = everything) routes to its backends. */
  public record Rule(List<Match> matches, List<Backend> backends, Duration timeout, Retry retry) {
    public Rule {
      matches = List.copyOf(matches);
      backends = List.copyOf(backends);
    }
  }

  /** Conditions that must all hold; a null path matches every path. */
  public record Match(PathMatch path, List<HeaderMatch> headers, String method) {
    public Match {
      headers = List.copyOf(headers);
    }
  }

  public record PathMatch(PathType type, String value) {}

  public enum PathType {
    EXACT,
    PREFIX,
    REGEX
  }

  public record HeaderMatch(String name, HeaderType type, String value) {}

  public enum HeaderType {
    EXACT,
    REGEX
  }

  /**
   * A backend service and its share of traffic.
   *
   * @param port the backend's port, or null for the same port number as the route's
   */
  public record Backend(ObjectRef service, Integer port, int weight) {}

  /**
   * @param on conditions, as Envoy's retry_on (e.g. "5xx", "reset", "connect-failure") and gRPC status names
   *     ("unavailable", "cancelled", "deadline-exceeded", "internal", "resource-exhausted")
   */
  public record Retry(int attempts, List<String> on, Duration perTryTimeout, Duration backoffBase, Duration backoffMax,
      List<Integer> statusCodes) {
    public Retry {
      on = List.copyOf(on);
      statusCodes = List.copyOf(statusCodes);
    }
  }
}
