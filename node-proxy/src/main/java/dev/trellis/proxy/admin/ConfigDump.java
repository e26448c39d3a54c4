package dev.trellis.proxy.admin;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.trellis.proxy.identity.CertificateManager;
import dev.trellis.proxy.route.RouteTable;
import dev.trellis.proxy.state.AuthorizationSpec;
import dev.trellis.proxy.state.ClusterSpec;
import dev.trellis.proxy.state.EndpointSpec;
import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.proxy.state.OutboundRule;
import dev.trellis.proxy.state.ProxyConfig;
import java.time.Duration;
import java.util.Collection;
import java.util.Comparator;
import java.util.TreeMap;

/**
 * {@code /config_dump}: everything the proxy runs by, as JSON — the config version, local workloads
 * (identity, mTLS mode, authorization policies, port protocols), the SVID of each local identity,
 * outbound rules, clusters with their limits and endpoints, and route tables. Durations are strings
 * in ISO-8601 ({@code PT5S}); absent optional values are left out. Keys are sorted where the source is a
 * map, so two dumps of the same config are identical.
 */
final class ConfigDump {

  private ConfigDump() {}

  static String json(ProxyConfig c, Collection<CertificateManager.IdentityStatus> identities) {
    JsonObject root = new JsonObject();
    root.addProperty("version", c.version());
    JsonArray workloads = new JsonArray();
    new TreeMap<>(c.localByAddress()).forEach((address, w) -> workloads.add(workload(address, w)));
    root.add("localWorkloads", workloads);
    JsonArray ids = new JsonArray();
    identities.stream().sorted(Comparator.comparing(s -> s.identity().toString())).forEach(s -> {
      JsonObject o = new JsonObject();
      o.addProperty("identity", s.identity().toString());
      o.addProperty("ready", s.ready());
      if (s.notAfter() != null) {
        o.addProperty("notAfter", s.notAfter().toString());
      }
      if (s.serial() != null) {
        o.addProperty("serial", s.serial());
      }
      ids.add(o);
    });
    root.add("identities", ids);
    JsonArray outbound = new JsonArray();
    for (OutboundRule r : c.outbound()) {
      JsonObject o = new JsonObject();
      o.addProperty("name", r.name());
      o.addProperty("destination", r.destination().toString());
      o.addProperty("port", r.port());
      switch (r.target()) {
        case OutboundRule.Http h -> o.addProperty("http", h.routeConfig());
        case OutboundRule.Tcp t -> o.addProperty("tcp", t.cluster());
      }
      outbound.add(o);
    }
    root.add("outbound", outbound);
    JsonArray clusters = new JsonArray();
    new TreeMap<>(c.clusters()).forEach((name, spec) -> clusters.add(cluster(spec, c)));
    root.add("clusters", clusters);
    JsonArray routes = new JsonArray();
    new TreeMap<>(c.routes()).forEach((name, table) -> routes.add(routeTable(table)));
    root.add("routes", routes);
    return new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create().toJson(root) + "\n";
  }

  private static JsonObject workload(String address, LocalWorkload w) {
    JsonObject o = new JsonObject();
    o.addProperty("address", address);
    o.addProperty("name", w.name());
    o.addProperty("namespace", w.namespace());
    o.addProperty("identity", w.identity().toString());
    o.addProperty("inMesh", w.inMesh());
    o.addProperty("mtls", w.mtls().name());
    JsonObject protocols = new JsonObject();
    new TreeMap<>(w.portProtocols()).forEach((port, p) -> protocols.addProperty(Integer.toString(port), p));
    o.add("portProtocols", protocols);
    JsonArray policies = new JsonArray();
    for (AuthorizationSpec p : w.authorizations()) {
      JsonObject po = new JsonObject();
      po.addProperty("name", p.name());
      po.addProperty("action", p.action().name());
      JsonArray rules = new JsonArray();
      for (AuthorizationSpec.Rule r : p.rules()) {
        JsonObject ro = new JsonObject();
        ro.add("identities", strings(r.identities().stream().sorted().toList()));
        ro.add("namespaces", strings(r.namespaces().stream().sorted().toList()));
        JsonArray ports = new JsonArray();
        r.ports().stream().sorted().forEach(ports::add);
        ro.add("ports", ports);
        ro.add("methods", strings(r.methods().stream().sorted().toList()));
        ro.add("paths", strings(r.paths()));
        rules.add(ro);
      }
      po.add("rules", rules);
      policies.add(po);
    }
    o.add("authorizations", policies);
    return o;
  }

  private static JsonObject cluster(ClusterSpec spec, ProxyConfig c) {
    JsonObject o = new JsonObject();
    o.addProperty("name", spec.name());
    o.addProperty("lb", spec.lb().name());
    duration(o, "connectTimeout", spec.connectTimeout());
    o.addProperty("upstreamProtocol", spec.upstream().name());
    ClusterSpec.Breaker b = spec.breaker();
    JsonObject breaker = new JsonObject();
    breaker.addProperty("maxConnections", b.maxConnections());
    breaker.addProperty("maxPendingRequests", b.maxPendingRequests());
    breaker.addProperty("maxRequests", b.maxRequests());
    breaker.addProperty("maxRetries", b.maxRetries());
    if (b.retryBudgetPercent() >= 0) {
      breaker.addProperty("retryBudgetPercent", b.retryBudgetPercent());
      breaker.addProperty("minRetryConcurrency", b.minRetryConcurrency());
    }
    o.add("circuitBreaker", breaker);
    if (spec.outlier() != null) {
      ClusterSpec.Outlier od = spec.outlier();
      JsonObject outlier = new JsonObject();
      outlier.addProperty("consecutive5xx", od.consecutive5xx());
      duration(outlier, "interval", od.interval());
      duration(outlier, "baseEjectionTime", od.baseEjectionTime());
      outlier.addProperty("maxEjectionPercent", od.maxEjectionPercent());
      o.add("outlierDetection", outlier);
    }
    JsonArray endpoints = new JsonArray();
    for (EndpointSpec e : c.findEndpoints(spec.name())) {
      JsonObject eo = new JsonObject();
      eo.addProperty("address", e.hostPort());
      eo.addProperty("weight", e.weight());
      eo.addProperty("inMesh", e.inMesh());
      if (e.identity() != null) {
        eo.addProperty("identity", e.identity().toString());
      }
      if (e.workload() != null) {
        eo.addProperty("workload", e.workload());
      }
      if (e.node() != null) {
        eo.addProperty("node", e.node());
      }
      if (e.nodeAddress() != null) {
        eo.addProperty("nodeAddress", e.nodeAddress());
      }
      if (e.locality() != null) {
        eo.addProperty("locality", e.locality());
      }
      endpoints.add(eo);
    }
    o.add("endpoints", endpoints);
    return o;
  }

  private static JsonObject routeTable(RouteTable table) {
    JsonObject o = new JsonObject();
    o.addProperty("name", table.name());
    JsonArray hosts = new JsonArray();
    for (RouteTable.VirtualHost vh : table.virtualHosts()) {
      JsonObject h = new JsonObject();
      h.addProperty("name", vh.name());
      h.add("domains", strings(vh.domains().stream().sorted().toList()));
      JsonArray rules = new JsonArray();
      for (RouteTable.Rule r : vh.rules()) {
        JsonObject ro = new JsonObject();
        ro.addProperty("name", r.name());
        JsonObject m = new JsonObject();
        if (r.match().path() != null) {
          m.addProperty("path", r.match().path());
        }
        if (r.match().prefix() != null) {
          m.addProperty("prefix", r.match().prefix());
        }
        if (r.match().regex() != null) {
          m.addProperty("regex", r.match().regex().pattern());
        }
        JsonArray headers = new JsonArray();
        for (RouteTable.HeaderMatch hm : r.match().headers()) {
          JsonObject ho = new JsonObject();
          ho.addProperty("name", hm.name());
          if (hm.exact() != null) {
            ho.addProperty("exact", hm.exact());
          }
          if (hm.regex() != null) {
            ho.addProperty("regex", hm.regex().pattern());
          }
          headers.add(ho);
        }
        m.add("headers", headers);
        ro.add("match", m);
        ro.add("action", action(r.action()));
        rules.add(ro);
      }
      h.add("rules", rules);
      hosts.add(h);
    }
    o.add("virtualHosts", hosts);
    return o;
  }

  private static JsonObject action(RouteTable.Action a) {
    JsonObject o = new JsonObject();
    JsonArray clusters = new JsonArray();
    for (RouteTable.WeightedCluster w : a.clusters()) {
      JsonObject wo = new JsonObject();
      wo.addProperty("cluster", w.cluster());
      wo.addProperty("weight", w.weight());
      clusters.add(wo);
    }
    o.add("clusters", clusters);
    duration(o, "timeout", a.timeout());
    if (a.retry() != null) {
      RouteTable.RetrySpec r = a.retry();
      JsonObject ro = new JsonObject();
      ro.add("retryOn", strings(r.retryOn().stream().sorted().toList()));
      ro.addProperty("numRetries", r.numRetries());
      duration(ro, "perTryTimeout", r.perTryTimeout());
      duration(ro, "backoffBase", r.backoffBase());
      duration(ro, "backoffMax", r.backoffMax());
      JsonArray codes = new JsonArray();
      r.retriableStatusCodes().stream().sorted().forEach(codes::add);
      ro.add("retriableStatusCodes", codes);
      o.add("retry", ro);
    }
    if (a.hashHeader() != null) {
      o.addProperty("hashHeader", a.hashHeader());
    }
    if (a.hashSourceIp()) {
      o.addProperty("hashSourceIp", true);
    }
    return o;
  }

  private static void duration(JsonObject o, String name, Duration d) {
    if (d != null) {
      o.addProperty(name, d.toString());
    }
  }

  private static JsonArray strings(Collection<String> values) {
    JsonArray a = new JsonArray();
    values.forEach(a::add);
    return a;
  }
}
