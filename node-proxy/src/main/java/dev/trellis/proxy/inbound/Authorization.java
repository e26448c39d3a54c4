package dev.trellis.proxy.inbound;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.proxy.state.AuthorizationSpec;
import java.util.List;

/**
 * Whether a caller may reach a local workload, from the policies that select it. Pure.
 *
 * <p>DENY policies first: a matching rule denies. Then, if any ALLOW policy exists, a request must
 * match one of their rules; otherwise what was not denied is allowed. A plaintext caller (no peer
 * identity) matches only rules without {@code from}.
 *
 * <p>At connection time the method and path are unknown ({@code method == null}). A rule that names
 * them can then neither match nor be ruled out: if the outcome depends on such a rule the answer is
 * {@link NeedsRequest}, and the caller must evaluate each HTTP request on the connection.
 */
public final class Authorization {

  private Authorization() {}

  public sealed interface Result {}

  public record Allow() implements Result {}

  public record Deny(String reason) implements Result {}

  /** Only a parsed HTTP request can decide: evaluate again per request with its method and path. */
  public record NeedsRequest() implements Result {}

  private enum Match {
    YES,
    NO,
    UNKNOWN
  }

  /**
   * @param peer the caller's verified identity, or null for a plaintext caller
   * @param method the request's method (upper case), or null when only the connection is known
   * @param path the request's path without query, or null with {@code method}
   */
  public static Result evaluate(List<AuthorizationSpec> policies, SpiffeId peer, int port, String method, String path) {
    boolean unknown = false;
    for (AuthorizationSpec p : policies) {
      if (p.action() != AuthorizationSpec.Action.DENY) {
        continue;
      }
      for (AuthorizationSpec.Rule r : p.rules()) {
        Match m = match(r, peer, port, method, path);
        if (m == Match.YES) {
          return new Deny("denied by policy " + p.name());
        }
        unknown |= m == Match.UNKNOWN;
      }
    }
    if (unknown) {
      return new NeedsRequest();
    }
    boolean anyAllow = false;
    for (AuthorizationSpec p : policies) {
      if (p.action() != AuthorizationSpec.Action.ALLOW) {
        continue;
      }
      anyAllow = true;
      for (AuthorizationSpec.Rule r : p.rules()) {
        Match m = match(r, peer, port, method, path);
        if (m == Match.YES) {
          return new Allow();
        }
        unknown |= m == Match.UNKNOWN;
      }
    }
    if (!anyAllow) {
      return new Allow();
    }
    if (unknown) {
      return new NeedsRequest();
    }
    return new Deny("no ALLOW policy admits " + (peer == null ? "a plaintext caller" : peer.toString()) + " on port "
        + port + (method == null ? "" : " for " + method + " " + path));
  }

  private static Match match(AuthorizationSpec.Rule r, SpiffeId peer, int port, String method, String path) {
    if (r.hasFrom()) {
      if (peer == null) {
        return Match.NO;
      }
      boolean byId = r.identities().contains(peer.toString());
      boolean byNs = peer.namespace().map(r.namespaces()::contains).orElse(false);
      if (!byId && !byNs) {
        return Match.NO;
      }
    }
    if (!r.ports().isEmpty() && !r.ports().contains(port)) {
      return Match.NO;
    }
    if (!r.isHttp()) {
      return Match.YES;
    }
    if (method == null) {
      return Match.UNKNOWN;
    }
    if (!r.methods().isEmpty() && !r.methods().contains(method)) {
      return Match.NO;
    }
    if (!r.paths().isEmpty() && r.paths().stream().noneMatch(p -> pathMatches(p, path))) {
      return Match.NO;
    }
    return Match.YES;
  }

  static boolean pathMatches(String pattern, String path) {
    return pattern.endsWith("*") ? path.startsWith(pattern.substring(0, pattern.length() - 1)) : pattern.equals(path);
  }
}
