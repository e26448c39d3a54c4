package dev.trellis.controlplane.config;

import dev.trellis.controlplane.model.AuthorizationPolicy;
import dev.trellis.controlplane.model.HttpRoute;
import dev.trellis.controlplane.model.HttpRoute.Backend;
import dev.trellis.controlplane.model.HttpRoute.HeaderMatch;
import dev.trellis.controlplane.model.HttpRoute.Match;
import dev.trellis.controlplane.model.HttpRoute.PathMatch;
import dev.trellis.controlplane.model.ObjectRef;
import dev.trellis.controlplane.model.Service;
import dev.trellis.controlplane.model.ServicePort;
import dev.trellis.controlplane.model.TrafficPolicy;
import dev.trellis.mtls.MtlsException;
import dev.trellis.mtls.identity.SpiffeId;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/** The traffic sections of a mesh file: routes, traffic policies, authorization policies. */
final class TrafficSections {

  /** retry "on" values: Envoy's retry_on conditions and the gRPC statuses grpc clients honour. */
  static final Set<String> RETRY_ON = Set.of("5xx", "gateway-error", "reset", "connect-failure", "retriable-4xx",
      "refused-stream", "retriable-status-codes", "cancelled", "deadline-exceeded", "internal", "resource-exhausted",
      "unavailable");
  private static final Pattern METHOD = Pattern.compile("[A-Z]+");

  private final MeshFile.Parser<?> p;

  TrafficSections(MeshFile.Parser<?> parser) {
    this.p = parser;
  }

  List<HttpRoute> routes(List<YamlValue> items) {
    List<HttpRoute> out = new ArrayList<>();
    Map<String, String> attached = new HashMap<>();
    Set<ObjectRef> names = new HashSet<>();
    for (YamlValue item : items) {
      Map<String, YamlValue> f = item.fields(Set.of("name", "namespace", "service", "port", "rules"));
      String name = p.required(item, f, "name") ? Names.label(f.get("name")) : null;
      String ns = p.required(item, f, "namespace") ? Names.label(f.get("namespace")) : null;
      if (name == null || ns == null) {
        continue;
      }
      if (!names.add(new ObjectRef(ns, name))) {
        item.problem("route " + ns + "/" + name + " is declared twice");
        continue;
      }
      ObjectRef serviceRef = p.required(item, f, "service") ? p.serviceRef(f.get("service"), ns) : null;
      Service service = serviceRef == null ? null : p.services.get(serviceRef);
      Integer port = null;
      if (f.containsKey("port")) {
        port = f.get("port").integer(1, 65535);
        if (port != null && service != null) {
          ServicePort sp = service.port(port).orElse(null);
          if (sp == null) {
            f.get("port").problem("service " + serviceRef + " has no port " + port);
            port = null;
          } else if (!sp.protocol().isHttp()) {
            f.get("port").problem("port " + port + " of service " + serviceRef + " is TCP; HTTP routes need an "
                + "http, http2 or grpc port");
            port = null;
          }
        }
      }
      List<HttpRoute.Rule> rules = new ArrayList<>();
      if (p.required(item, f, "rules")) {
        for (YamlValue r : f.get("rules").list()) {
          HttpRoute.Rule rule = rule(r, ns, port);
          if (rule != null) {
            rules.add(rule);
          }
        }
      }
      if (service == null || rules.isEmpty()) {
        continue;
      }
      for (ServicePort sp : service.ports()) {
        if (sp.protocol().isHttp() && (port == null || port == sp.port())) {
          String key = serviceRef + ":" + sp.port();
          String other = attached.put(key, ns + "/" + name);
          if (other != null) {
            item.problem("service " + serviceRef + " port " + sp.port() + " already has route " + other
                + "; put both routes' rules into one route (rules are matched in order)");
          }
        }
      }
      out.add(new HttpRoute(name, ns, serviceRef, port, rules));
    }
    return out;
  }

  private HttpRoute.Rule rule(YamlValue item, String ns, Integer routePort) {
    Map<String, YamlValue> f = item.fields(Set.of("matches", "backends", "timeout", "retry"));
    List<Match> matches = new ArrayList<>();
    if (f.containsKey("matches")) {
      for (YamlValue m : f.get("matches").list()) {
        Match match = match(m);
        if (match != null) {
          matches.add(match);
        }
      }
    }
    List<Backend> backends = new ArrayList<>();
    if (p.required(item, f, "backends")) {
      for (YamlValue b : f.get("backends").list()) {
        Backend backend = backend(b, ns, routePort);
        if (backend != null) {
          backends.add(backend);
        }
      }
      if (f.get("backends").list().isEmpty()) {
        f.get("backends").problem("a rule needs at least one backend");
      } else if (backends.size() == f.get("backends").list().size()
          && backends.stream().mapToLong(Backend::weight).sum() == 0) {
        f.get("backends").problem("backend weights sum to 0; give at least one backend a positive weight");
      }
    }
    Duration timeout = f.containsKey("timeout") ? f.get("timeout").duration() : null;
    HttpRoute.Retry retry = f.containsKey("retry") ? retry(f.get("retry")) : null;
    if (backends.isEmpty()) {
      return null;
    }
    return new HttpRoute.Rule(matches, backends, timeout, retry);
  }

  private Match match(YamlValue item) {
    Map<String, YamlValue> f = item.fields(Set.of("path", "headers", "method"));
    PathMatch path = null;
    if (f.containsKey("path")) {
      Map<String, YamlValue> pf = f.get("path").fields(Set.of("type", "value"));
      HttpRoute.PathType type = pf.containsKey("type") ? pf.get("type").enumValue(HttpRoute.PathType.class)
          : HttpRoute.PathType.PREFIX;
      String value = p.required(f.get("path"), pf, "value") ? pf.get("value").string() : null;
      if (value != null && type != HttpRoute.PathType.REGEX && !value.startsWith("/")) {
        pf.get("value").problem("path '" + value + "' must start with '/'");
        value = null;
      }
      if (value != null && type == HttpRoute.PathType.REGEX && !validRegex(pf.get("value"), value)) {
        value = null;
      }
      if (type == null || value == null) {
        return null;
      }
      path = new PathMatch(type, value);
    }
    List<HeaderMatch> headers = new ArrayList<>();
    if (f.containsKey("headers")) {
      for (YamlValue h : f.get("headers").list()) {
        Map<String, YamlValue> hf = h.fields(Set.of("name", "value", "type"));
        String name = p.required(h, hf, "name") ? hf.get("name").string() : null;
        String value = p.required(h, hf, "value") ? hf.get("value").string() : null;
        HttpRoute.HeaderType type = hf.containsKey("type") ? hf.get("type").enumValue(HttpRoute.HeaderType.class)
            : HttpRoute.HeaderType.EXACT;
        if (type == HttpRoute.HeaderType.REGEX && value != null && !validRegex(hf.get("value"), value)) {
          value = null;
        }
        if (name == null || value == null || type == null) {
          return null;
        }
        headers.add(new HeaderMatch(name.toLowerCase(Locale.ROOT), type, value));
      }
    }
    String method = null;
    if (f.containsKey("method")) {
      method = f.get("method").string();
      if (method != null && !METHOD.matcher(method).matches()) {
        f.get("method").problem("'" + method + "' is not an HTTP method (expected e.g. GET, POST)");
        return null;
      }
    }
    return new Match(path, headers, method);
  }

  private static boolean validRegex(YamlValue at, String regex) {
    try {
      Pattern.compile(regex);
      return true;
    } catch (PatternSyntaxException e) {
      at.problem("'" + regex + "' is not a valid regular expression: " + e.getDescription());
      return false;
    }
  }

  private Backend backend(YamlValue item, String ns, Integer routePort) {
    Map<String, YamlValue> f = item.fields(Set.of("service", "port", "weight"));
    ObjectRef ref = p.required(item, f, "service") ? p.serviceRef(f.get("service"), ns) : null;
    Integer port = f.containsKey("port") ? f.get("port").integer(1, 65535) : null;
    Integer weight = f.containsKey("weight") ? f.get("weight").integer(0, 1_000_000) : Integer.valueOf(1);
    if (ref == null || weight == null) {
      return null;
    }
    Service target = p.services.get(ref);
    Integer effective = port != null ? port : routePort;
    if (effective != null && target.port(effective).isEmpty()) {
      (f.containsKey("port") ? f.get("port") : item).problem("backend service " + ref + " has no port " + effective
          + " (its ports: " + target.ports().stream().map(ServicePort::port).toList() + ")");
      return null;
    }
    return new Backend(ref, port, weight);
  }

  private HttpRoute.Retry retry(YamlValue item) {
    Map<String, YamlValue> f = item.fields(Set.of("attempts", "on", "perTryTimeout", "backoff", "statusCodes"));
    Integer attempts = p.required(item, f, "attempts") ? f.get("attempts").integer(0, 10) : null;
    List<String> on = f.containsKey("on") ? f.get("on").strings() : List.of("connect-failure", "reset", "unavailable");
    if (f.containsKey("on")) {
      for (String cond : on) {
        if (!RETRY_ON.contains(cond)) {
          f.get("on").problem("'" + cond + "' is not a retry condition (expected some of: "
              + new TreeSet<>(RETRY_ON) + ")");
          return null;
        }
      }
    }
    Duration perTry = f.containsKey("perTryTimeout") ? f.get("perTryTimeout").duration() : null;
    Duration base = null;
    Duration max = null;
    if (f.containsKey("backoff")) {
      Map<String, YamlValue> bf = f.get("backoff").fields(Set.of("base", "max"));
      base = bf.containsKey("base") ? bf.get("base").duration() : null;
      max = bf.containsKey("max") ? bf.get("max").duration() : null;
      if (base != null && max != null && max.compareTo(base) < 0) {
        bf.get("max").problem("backoff max " + max.toMillis() + "ms is below base " + base.toMillis() + "ms");
        return null;
      }
    }
    List<Integer> codes = new ArrayList<>();
    if (f.containsKey("statusCodes")) {
      for (YamlValue c : f.get("statusCodes").list()) {
        Integer code = c.integer(100, 599);
        if (code != null) {
          codes.add(code);
        }
      }
    }
    if (attempts == null) {
      return null;
    }
    return new HttpRoute.Retry(attempts, on, perTry, base, max, codes);
  }

  List<TrafficPolicy> policies(List<YamlValue> items) {
    List<TrafficPolicy> out = new ArrayList<>();
    Map<ObjectRef, String> byService = new HashMap<>();
    for (YamlValue item : items) {
      Map<String, YamlValue> f = item.fields(Set.of("name", "namespace", "service", "loadBalancer", "connectionPool",
          "outlierDetection", "retryBudget"));
      String name = p.required(item, f, "name") ? Names.label(f.get("name")) : null;
      String ns = p.required(item, f, "namespace") ? Names.label(f.get("namespace")) : null;
      ObjectRef service = ns != null && p.required(item, f, "service") ? p.serviceRef(f.get("service"), ns) : null;
      TrafficPolicy.LoadBalancer lb = null;
      if (f.containsKey("loadBalancer")) {
        Map<String, YamlValue> lf = f.get("loadBalancer").fields(Set.of("algorithm", "hashHeader"));
        TrafficPolicy.Algorithm alg = p.required(f.get("loadBalancer"), lf, "algorithm")
            ? lf.get("algorithm").enumValue(TrafficPolicy.Algorithm.class) : null;
        String header = lf.containsKey("hashHeader") ? lf.get("hashHeader").string() : null;
        if (header != null && alg != TrafficPolicy.Algorithm.RING_HASH && alg != TrafficPolicy.Algorithm.MAGLEV) {
          lf.get("hashHeader").problem("hashHeader applies to ring-hash and maglev only");
        }
        lb = alg == null ? null : new TrafficPolicy.LoadBalancer(alg, header == null ? null : header.toLowerCase(Locale.ROOT));
      }
      TrafficPolicy.ConnectionPool pool = null;
      if (f.containsKey("connectionPool")) {
        Map<String, YamlValue> cf = f.get("connectionPool").fields(Set.of("maxConnections", "maxPendingRequests",
            "maxRequests", "maxRetries"));
        pool = new TrafficPolicy.ConnectionPool(positive(cf, "maxConnections"), positive(cf, "maxPendingRequests"),
            positive(cf, "maxRequests"), positive(cf, "maxRetries"));
      }
      TrafficPolicy.OutlierDetection outlier = null;
      if (f.containsKey("outlierDetection")) {
        Map<String, YamlValue> of = f.get("outlierDetection").fields(Set.of("consecutive5xx", "interval",
            "baseEjectionTime", "maxEjectionPercent"));
        outlier = new TrafficPolicy.OutlierDetection(positive(of, "consecutive5xx"),
            of.containsKey("interval") ? of.get("interval").duration() : null,
            of.containsKey("baseEjectionTime") ? of.get("baseEjectionTime").duration() : null,
            of.containsKey("maxEjectionPercent") ? of.get("maxEjectionPercent").integer(0, 100) : null);
      }
      TrafficPolicy.RetryBudget budget = null;
      if (f.containsKey("retryBudget")) {
        Map<String, YamlValue> bf = f.get("retryBudget").fields(Set.of("percent", "minConcurrency"));
        Double percent = p.required(f.get("retryBudget"), bf, "percent") ? bf.get("percent").decimal(0, 100) : null;
        Integer min = bf.containsKey("minConcurrency") ? bf.get("minConcurrency").integer(0, 1_000_000) : Integer.valueOf(3);
        budget = percent == null || min == null ? null : new TrafficPolicy.RetryBudget(percent, min);
      }
      if (name == null || service == null) {
        continue;
      }
      String other = byService.put(service, ns + "/" + name);
      if (other != null) {
        item.problem("service " + service + " already has traffic policy " + other + "; use one policy per service");
        continue;
      }
      out.add(new TrafficPolicy(name, ns, service, lb, pool, outlier, budget));
    }
    return out;
  }

  private static Integer positive(Map<String, YamlValue> f, String field) {
    return f.containsKey(field) ? f.get(field).integer(1, Integer.MAX_VALUE) : null;
  }

  List<AuthorizationPolicy> authorizations(List<YamlValue> items) {
    List<AuthorizationPolicy> out = new ArrayList<>();
    for (YamlValue item : items) {
      Map<String, YamlValue> f = item.fields(Set.of("name", "namespace", "selector", "action", "rules"));
      String name = p.required(item, f, "name") ? Names.label(f.get("name")) : null;
      String ns = p.required(item, f, "namespace") ? Names.label(f.get("namespace")) : null;
      Map<String, String> selector = f.containsKey("selector") ? f.get("selector").stringMap() : Map.of();
      AuthorizationPolicy.Action action = p.required(item, f, "action")
          ? f.get("action").enumValue(AuthorizationPolicy.Action.class) : null;
      List<AuthorizationPolicy.Rule> rules = new ArrayList<>();
      if (f.containsKey("rules")) {
        for (YamlValue r : f.get("rules").list()) {
          Map<String, YamlValue> rf = r.fields(Set.of("from", "ports", "methods", "paths"));
          List<String> from = rf.containsKey("from") ? rf.get("from").strings() : List.of();
          for (String source : from) {
            checkSource(rf.get("from"), source);
          }
          List<Integer> ports = new ArrayList<>();
          if (rf.containsKey("ports")) {
            for (YamlValue pv : rf.get("ports").list()) {
              Integer port = pv.integer(1, 65535);
              if (port != null) {
                ports.add(port);
              }
            }
          }
          List<String> methods = new ArrayList<>();
          for (String m : rf.containsKey("methods") ? rf.get("methods").strings() : List.<String>of()) {
            if (!m.matches("[A-Za-z]+")) {
              rf.get("methods").problem("method '" + m + "' is not an HTTP method name (e.g. GET, POST)");
            }
            methods.add(m.toUpperCase(Locale.ROOT));
          }
          List<String> paths = rf.containsKey("paths") ? rf.get("paths").strings() : List.of();
          for (String path : paths) {
            if (!path.startsWith("/")) {
              rf.get("paths").problem("path '" + path + "' must start with '/'");
            } else if (path.indexOf('*') >= 0 && path.indexOf('*') != path.length() - 1) {
              rf.get("paths").problem("path '" + path + "': '*' may only end a path (a prefix match, e.g. /api/*)");
            } else if (PolicyPaths.problem(path) != null) {
              rf.get("paths").problem("path '" + path + "' " + PolicyPaths.problem(path));
            }
          }
          rules.add(new AuthorizationPolicy.Rule(from, ports, methods, paths));
        }
      }
      if (name != null && ns != null && action != null) {
        out.add(new AuthorizationPolicy(name, ns, selector, action, rules));
      }
    }
    return out;
  }

  private static void checkSource(YamlValue at, String source) {
    if (source.startsWith("ns/")) {
      if (!source.substring(3).matches("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")) {
        at.problem("'" + source + "' does not name a namespace (expected ns/<namespace>)");
      }
      return;
    }
    try {
      SpiffeId.parse(source);
    } catch (MtlsException e) {
      at.problem("'" + source + "' is neither ns/<namespace> nor a SPIFFE ID: " + e.getMessage());
    }
  }
}
