package dev.trellis.controlplane.discovery;

import dev.trellis.controlplane.model.HttpRoute;
import dev.trellis.controlplane.model.ObjectRef;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPBackendRef;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPHeaderMatch;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRoute;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteMatch;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteRule;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.ParentReference;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Gateway API {@code HTTPRoute}s attached to Services (the GAMMA mesh profile) as the mesh model's routes.
 * Pure. Each Service parent gives one route; parents that are not Services (Gateways) are not the mesh's
 * business and are skipped. What the mesh cannot honour is reported per route ({@link Translation#problems}),
 * worded for the route's status conditions, and the rule or backend concerned is left out rather than
 * half-applied: query-parameter matches, backends in another namespace (no ReferenceGrant support yet),
 * backends that are not Services, malformed durations.
 */
public final class GatewayRoutes {

  /** What kind of thing could not be honoured: it decides the status condition that reports it. */
  public enum ProblemKind {
    /** A rule uses something the mesh does not support: the rule is left out (PartiallyInvalid). */
    RULE_DROPPED,
    /** A backend in another namespace (ResolvedRefs=False, RefNotPermitted). */
    REF_NOT_PERMITTED,
    /** A backend that is not a Service (ResolvedRefs=False, InvalidKind). */
    INVALID_KIND,
    /** A malformed value the rule is applied without (PartiallyInvalid). */
    INVALID_VALUE
  }

  /** One thing that could not be honoured, with the field path in its message. */
  public record Problem(ProblemKind kind, String message) {}

  /** The routes one HTTPRoute gives, and what could not be honoured (empty when all is well). */
  public record Translation(List<HttpRoute> routes, List<Problem> problems) {}

  private static final Pattern DURATION = Pattern.compile("([0-9]{1,5})(h|ms|m|s)");

  private GatewayRoutes() {}

  public static Translation translate(HTTPRoute route) {
    String ns = route.getMetadata().getNamespace();
    String name = route.getMetadata().getName();
    List<Problem> problems = new ArrayList<>();
    List<HttpRoute.Rule> rules = new ArrayList<>();
    List<HTTPRouteRule> specRules = route.getSpec() == null || route.getSpec().getRules() == null ? List.of()
        : route.getSpec().getRules();
    for (int i = 0; i < specRules.size(); i++) {
      HttpRoute.Rule r = rule(specRules.get(i), ns, "spec.rules[" + i + "]", problems);
      if (r != null) {
        rules.add(r);
      }
    }
    List<HttpRoute> out = new ArrayList<>();
    List<ParentReference> parents = route.getSpec() == null || route.getSpec().getParentRefs() == null ? List.of()
        : route.getSpec().getParentRefs();
    for (ParentReference p : parents) {
      if (!"Service".equals(p.getKind()) || !(p.getGroup() == null || p.getGroup().isEmpty() || "core".equals(p.getGroup()))) {
        continue;
      }
      ObjectRef service = new ObjectRef(p.getNamespace() == null ? ns : p.getNamespace(), p.getName());
      out.add(new HttpRoute(name, ns, service, p.getPort(), rules));
    }
    return new Translation(out, problems);
  }

  private static HttpRoute.Rule rule(HTTPRouteRule rule, String ns, String at, List<Problem> problems) {
    List<HttpRoute.Match> matches = new ArrayList<>();
    List<HTTPRouteMatch> specMatches = rule.getMatches() == null ? List.of() : rule.getMatches();
    for (int j = 0; j < specMatches.size(); j++) {
      HTTPRouteMatch m = specMatches.get(j);
      if (m.getQueryParams() != null && !m.getQueryParams().isEmpty()) {
        problems.add(new Problem(ProblemKind.RULE_DROPPED,
            at + ".matches[" + j + "].queryParams: query parameter matches are not supported; rule skipped"));
        return null;
      }
      HttpRoute.PathMatch path = null;
      if (m.getPath() != null) {
        String type = m.getPath().getType() == null ? "PathPrefix" : m.getPath().getType();
        String value = m.getPath().getValue() == null ? "/" : m.getPath().getValue();
        HttpRoute.PathType t = switch (type) {
          case "Exact" -> HttpRoute.PathType.EXACT;
          case "PathPrefix" -> HttpRoute.PathType.PREFIX;
          case "RegularExpression" -> HttpRoute.PathType.REGEX;
          default -> null;
        };
        if (t == null) {
          problems.add(new Problem(ProblemKind.RULE_DROPPED, at + ".matches[" + j + "].path.type: '" + type
              + "' (expected Exact, PathPrefix or RegularExpression); rule skipped"));
          return null;
        }
        path = new HttpRoute.PathMatch(t, value);
      }
      List<HttpRoute.HeaderMatch> headers = new ArrayList<>();
      for (HTTPHeaderMatch h : m.getHeaders() == null ? List.<HTTPHeaderMatch>of() : m.getHeaders()) {
        headers.add(new HttpRoute.HeaderMatch(h.getName(), "RegularExpression".equals(h.getType())
            ? HttpRoute.HeaderType.REGEX : HttpRoute.HeaderType.EXACT, h.getValue()));
      }
      matches.add(new HttpRoute.Match(path, headers, m.getMethod()));
    }
    List<HttpRoute.Backend> backends = new ArrayList<>();
    List<HTTPBackendRef> refs = rule.getBackendRefs() == null ? List.of() : rule.getBackendRefs();
    for (int j = 0; j < refs.size(); j++) {
      HTTPBackendRef b = refs.get(j);
      String where = at + ".backendRefs[" + j + "]";
      if (b.getKind() != null && !"Service".equals(b.getKind())) {
        problems.add(new Problem(ProblemKind.INVALID_KIND, where + ".kind: '" + b.getKind()
            + "' (only Service backends are supported)"));
        continue;
      }
      if (b.getNamespace() != null && !b.getNamespace().equals(ns)) {
        problems.add(new Problem(ProblemKind.REF_NOT_PERMITTED, where + ".namespace: '" + b.getNamespace()
            + "' is another namespace (ReferenceGrant is not supported yet; the backend is left out)"));
        continue;
      }
      backends.add(new HttpRoute.Backend(new ObjectRef(ns, b.getName()), b.getPort(), b.getWeight() == null ? 1 : b.getWeight()));
    }
    Duration timeout = null;
    if (rule.getTimeouts() != null && rule.getTimeouts().getRequest() != null) {
      timeout = duration(rule.getTimeouts().getRequest(), at + ".timeouts.request", problems);
    }
    HttpRoute.Retry retry = null;
    if (rule.getRetry() != null) {
      int attempts = rule.getRetry().getAttempts() == null ? 2 : rule.getRetry().getAttempts();
      List<Integer> codes = rule.getRetry().getCodes() == null || rule.getRetry().getCodes().isEmpty()
          ? List.of(500, 502, 503, 504) : rule.getRetry().getCodes();
      Duration base = rule.getRetry().getBackoff() == null ? Duration.ofMillis(25)
          : duration(rule.getRetry().getBackoff(), at + ".retry.backoff", problems);
      if (attempts > 0 && base != null) {
        retry = new HttpRoute.Retry(attempts, List.of("retriable-status-codes", "connect-failure", "reset"), null, base,
            base.multipliedBy(10), codes);
      }
    }
    return new HttpRoute.Rule(matches, backends, timeout, retry);
  }

  /** A Gateway API duration (GEP-2257): one to four {@code <number><h|m|s|ms>} parts, e.g. {@code 1h30m}, {@code 500ms}. */
  static Duration duration(String s, String at, List<Problem> problems) {
    Matcher m = DURATION.matcher(s);
    Duration d = Duration.ZERO;
    int end = 0;
    int parts = 0;
    while (m.find() && m.start() == end) {
      long n = Long.parseLong(m.group(1));
      d = d.plus(switch (m.group(2)) {
        case "h" -> Duration.ofHours(n);
        case "m" -> Duration.ofMinutes(n);
        case "s" -> Duration.ofSeconds(n);
        default -> Duration.ofMillis(n);
      });
      end = m.end();
      parts++;
    }
    if (end != s.length() || parts == 0 || parts > 4) {
      problems.add(new Problem(ProblemKind.INVALID_VALUE, at + ": '" + s
          + "' is not a Gateway API duration (e.g. 10s, 500ms, 1h30m)"));
      return null;
    }
    return d;
  }
}
