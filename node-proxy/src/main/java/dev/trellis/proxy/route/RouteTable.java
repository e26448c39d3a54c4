package dev.trellis.proxy.route;

import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * A route configuration as the proxy runs it: virtual hosts chosen by authority, rules matched in
 * order. Built from an Envoy {@code RouteConfiguration}; matching is a pure function.
 */
public record RouteTable(String name, List<VirtualHost> virtualHosts) {

  public RouteTable {
    virtualHosts = List.copyOf(virtualHosts);
  }

  public record VirtualHost(String name, Set<String> domains, List<Rule> rules) {
    public VirtualHost {
      domains = Set.copyOf(domains);
      rules = List.copyOf(rules);
    }
  }

  public record Rule(String name, Match match, Action action) {}

  /** Path (exactly one of path/prefix/regex, or none = any) and headers (all must match). */
  public record Match(String path, String prefix, Pattern regex, List<HeaderMatch> headers) {
    public Match {
      headers = List.copyOf(headers);
    }

    boolean matches(String requestPath, Function<String, String> header) {
      String p = stripQuery(requestPath);
      if (path != null && !path.equals(p)) {
        return false;
      }
      if (prefix != null && !p.startsWith(prefix)) {
        return false;
      }
      if (regex != null && !regex.matcher(p).matches()) {
        return false;
      }
      for (HeaderMatch h : headers) {
        String v = header.apply(h.name());
        if (v == null || (h.exact() != null ? !h.exact().equals(v) : !h.regex().matcher(v).matches())) {
          return false;
        }
      }
      return true;
    }
  }

  public record HeaderMatch(String name, String exact, Pattern regex) {}

  /**
   * Where a matched request goes and how.
   *
   * @param clusters one (weight ignored) or several weighted clusters
   * @param timeout whole-request timeout, null for none
   * @param hashHeader header for ring-hash/maglev, null when hashing the source address or not hashing
   */
  public record Action(List<WeightedCluster> clusters, Duration timeout, RetrySpec retry, String hashHeader,
      boolean hashSourceIp) {
    public Action {
      clusters = List.copyOf(clusters);
    }

    public int totalWeight() {
      int total = 0; // a loop, not a stream: this runs for each request that is split
      for (WeightedCluster c : clusters) {
        total += c.weight();
      }
      return total;
    }
  }

  public record WeightedCluster(String cluster, int weight) {}

  /**
   * Envoy retry semantics.
   *
   * @param retryOn retry_on conditions (5xx, gateway-error, reset, connect-failure,
   *     retriable-status-codes, and gRPC statuses such as unavailable)
   */
  public record RetrySpec(Set<String> retryOn, int numRetries, Duration perTryTimeout, Duration backoffBase,
      Duration backoffMax, Set<Integer> retriableStatusCodes) {
    public RetrySpec {
      retryOn = Set.copyOf(retryOn);
      retriableStatusCodes = Set.copyOf(retriableStatusCodes);
    }
  }

  /**
   * The rule for a request: the virtual host whose domains contain {@code authority} (exact, then
   * {@code *}; a table of one virtual host uses it for any authority, since the destination address
   * already chose the service), then its first matching rule. Null when nothing matches (the proxy
   * answers 404).
   */
  public Rule find(String authority, String path, Function<String, String> header) {
    VirtualHost vh = host(authority);
    if (vh == null) {
      return null;
    }
    for (Rule r : vh.rules()) {
      if (r.match().matches(path, header)) {
        return r;
      }
    }
    return null;
  }

  private VirtualHost host(String authority) {
    String a = authority == null ? "" : authority.toLowerCase(Locale.ROOT);
    VirtualHost wildcard = null;
    for (VirtualHost vh : virtualHosts) {
      if (vh.domains().contains(a)) {
        return vh;
      }
      if (vh.domains().contains("*")) {
        wildcard = vh;
      }
    }
    if (wildcard == null && virtualHosts.size() == 1) {
      return virtualHosts.getFirst();
    }
    return wildcard;
  }

  static String stripQuery(String path) {
    int q = path.indexOf('?');
    return q < 0 ? path : path.substring(0, q);
  }

  /** Headers by lower-case name, for tests and simple callers. */
  public static Function<String, String> headers(Map<String, String> h) {
    return name -> h.get(name.toLowerCase(Locale.ROOT));
  }
}
