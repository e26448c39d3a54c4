package dev.trellis.controlplane.admin;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.TypeRegistry;
import com.google.protobuf.util.JsonFormat;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.trellis.controlplane.config.MeshFileSource;
import dev.trellis.controlplane.server.ControlPlane;
import dev.trellis.mesh.v1.Workload;
import dev.trellis.mtls.refusal.RefusalLog;
import dev.trellis.xds.cache.Snapshot;
import dev.trellis.xds.resource.ResourceType;
import dev.trellis.xds.resource.XdsResource;
import dev.trellis.xds.server.ClientStatus;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.extensions.filters.http.router.v3.Router;
import io.envoyproxy.envoy.extensions.filters.listener.original_dst.v3.OriginalDst;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.Secret;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The control plane's admin port (15014): {@code /healthz/ready}, {@code /metrics} (Prometheus
 * text), {@code /debug/clients} (each xDS client, its subscriptions, ACKed versions, last NACK) and
 * {@code /debug/config} (every served resource as JSON). Bound to the control plane's address; it
 * carries no secrets (private keys never appear; the trust bundle is public), but the debug pages show
 * every workload's identity and address, so {@link AdminAccess} decides who sees them: health and metrics
 * are open, {@code /debug/*} needs a caller on this host, the admin token, or a node token (that node's view).
 */
public final class AdminServer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(AdminServer.class);
  private static final Gson GSON = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().serializeNulls().create();
  private static final JsonFormat.Printer PROTO_JSON = JsonFormat.printer().usingTypeRegistry(TypeRegistry.newBuilder()
      .add(Cluster.getDescriptor()).add(ClusterLoadAssignment.getDescriptor()).add(Listener.getDescriptor())
      .add(RouteConfiguration.getDescriptor()).add(Secret.getDescriptor()).add(Workload.getDescriptor())
      .add(HttpConnectionManager.getDescriptor()).add(Router.getDescriptor()).add(TcpProxy.getDescriptor())
      .add(OriginalDst.getDescriptor()).build());

  /** The service label of this server's refusals. */
  public static final String SERVICE = "admin";

  private final HttpServer server;
  private final ExecutorService executor;
  private final ControlPlane cp;
  private final AdminAccess access;
  private final RefusalLog refusals;

  private AdminServer(HttpServer server, ExecutorService executor, ControlPlane cp, AdminAccess access,
      RefusalLog refusals) {
    this.server = server;
    this.executor = executor;
    this.cp = cp;
    this.access = access;
    this.refusals = refusals;
  }

  /**
   * Starts serving on {@code address}.
   *
   * @param access who may read {@code /debug/*}
   * @param refusals counts and logs refused debug requests (service {@value #SERVICE})
   */
  public static AdminServer start(InetSocketAddress address, ControlPlane cp, AdminAccess access, RefusalLog refusals)
      throws IOException {
    HttpServer server;
    try {
      server = HttpServer.create(address, 64);
    } catch (java.net.BindException e) {
      throw new IOException("cannot listen on " + address + " (admin): the port is in use", e);
    }
    ExecutorService executor = Executors.newFixedThreadPool(2, Thread.ofPlatform().name("trellis-admin-", 0).daemon().factory());
    server.setExecutor(executor);
    AdminServer admin = new AdminServer(server, executor, cp, access, refusals);
    server.createContext("/healthz/ready", ex -> admin.respond(ex, () -> admin.ready()));
    server.createContext("/healthz/live", ex -> admin.respond(ex, () -> new Reply(200, "text/plain", "live\n")));
    server.createContext("/metrics", ex -> admin.respond(ex, () -> new Reply(200, "text/plain; version=0.0.4", admin.metrics())));
    server.createContext("/debug/clients", ex -> admin.respond(ex, () -> admin.debug(ex, d -> json(admin.clients(d)))));
    server.createContext("/debug/config", ex -> admin.respond(ex, () -> admin.debug(ex, d -> json(admin.config(d)))));
    server.createContext("/", ex -> admin.respond(ex, () -> ex.getRequestURI().getPath().equals("/")
        ? new Reply(200, "text/plain", "Trellis control plane admin\n  /healthz/ready\n  /healthz/live\n  /metrics\n"
            + "  /debug/clients   (from this host, or with 'Authorization: Bearer <admin or node token>')\n"
            + "  /debug/config    (the same)\n")
        : new Reply(404, "text/plain", "no such endpoint; see /\n")));
    server.start();
    return admin;
  }

  public int port() {
    return server.getAddress().getPort();
  }

  private record Reply(int status, String contentType, String body) {}

  private interface Handler {
    Reply handle() throws Exception;
  }

  private interface DebugPage {
    Reply render(AdminAccess.Decision allowed) throws Exception;
  }

  /** A {@code /debug/*} page, for whom {@link AdminAccess} lets see it; refusals counted, not logged each. */
  private Reply debug(HttpExchange ex, DebugPage page) throws Exception {
    AdminAccess.Decision d = access.decide(ex.getRemoteAddress(), ex.getLocalAddress(),
        ex.getRequestHeaders().getFirst("Authorization"));
    if (d instanceof AdminAccess.Denied denied) {
      refusals.refuse(SERVICE, denied.reason(), ex.getRequestURI().getPath() + " from " + ex.getRemoteAddress() + ": "
          + denied.message());
      if (denied.status() == 401) {
        ex.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"trellis-control-plane\"");
      }
      return new Reply(denied.status(), "text/plain", denied.message() + "\n");
    }
    return page.render(d);
  }

  /** The node whose view {@code d} allows, or null for every node. */
  private static String nodeOf(AdminAccess.Decision d) {
    return d instanceof AdminAccess.OneNode one ? one.node() : null;
  }

  private void respond(HttpExchange ex, Handler h) throws IOException {
    Reply reply;
    try {
      if (!ex.getRequestMethod().equals("GET") && !ex.getRequestMethod().equals("HEAD")) {
        reply = new Reply(405, "text/plain", "only GET\n");
      } else {
        reply = h.handle();
      }
    } catch (Exception e) {
      log.error("admin request {} failed", ex.getRequestURI(), e);
      reply = new Reply(500, "text/plain", "internal error; see the control plane log\n");
    }
    byte[] body = reply.body().getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", reply.contentType());
    ex.sendResponseHeaders(reply.status(), ex.getRequestMethod().equals("HEAD") ? -1 : body.length);
    try (OutputStream out = ex.getResponseBody()) {
      if (!ex.getRequestMethod().equals("HEAD")) {
        out.write(body);
      }
    }
  }

  private static Reply json(JsonElement e) {
    return new Reply(200, "application/json", GSON.toJson(e) + "\n");
  }

  /** Ready once serving; a rejected mesh-file edit is reported but does not make it unready (the last good config serves). */
  private Reply ready() {
    MeshFileSource.Status s = cp.meshStatus();
    StringBuilder b = new StringBuilder("ready: serving snapshot ").append(cp.store().current().version()).append('\n');
    ControlPlane.ClusterStatus c = cp.clusterStatus();
    if (c != null) {
      b.append("cluster mode: ").append(c.leader() ? "this replica (" + c.identity() + ") leads: it writes status and "
          + "trust bundles" : "replica " + c.identity() + " follows (leader: " + c.currentLeader() + ")").append('\n');
      c.missingApis().forEach(api -> b.append("warning: the cluster does not serve ").append(api).append('\n'));
    }
    if (s != null && !s.lastProblems().isEmpty()) {
      b.append("warning: the latest mesh file edit was rejected; the last good configuration is served:\n  ")
          .append(String.join("\n  ", s.lastProblems())).append('\n');
    }
    return new Reply(200, "text/plain", b.toString());
  }

  String metrics() {
    StringBuilder b = new StringBuilder();
    gauge(b, "trellis_xds_connected_clients", "Connected xDS streams.", cp.ads().registry().size());
    gauge(b, "trellis_config_snapshot_version", "Version of the snapshot being served.", cp.store().current().version());
    gauge(b, "trellis_config_resources", "Resources in the served snapshot.", cp.store().current().size());
    java.time.Instant published = cp.lastPublished();
    if (published != null) {
      b.append("# HELP trellis_config_last_push_timestamp_seconds When the latest config change was published (Unix time).\n")
          .append("# TYPE trellis_config_last_push_timestamp_seconds gauge\n")
          .append("trellis_config_last_push_timestamp_seconds ").append(published.toEpochMilli() / 1000.0).append('\n');
    }
    MeshFileSource.Status s = cp.meshStatus();
    if (s != null) {
      b.append("# HELP trellis_config_reloads_total Mesh file reloads by result.\n# TYPE trellis_config_reloads_total counter\n");
      b.append("trellis_config_reloads_total{result=\"applied\"} ").append(s.reloads()).append('\n');
      b.append("trellis_config_reloads_total{result=\"rejected\"} ").append(s.failedReloads()).append('\n');
    }
    ControlPlane.ClusterStatus c = cp.clusterStatus();
    if (c != null) {
      gauge(b, "trellis_leader", "1 if this replica holds the control-plane Lease (writes status).", c.leader() ? 1 : 0);
    }
    var os = java.lang.management.ManagementFactory.getOperatingSystemMXBean();
    if (os instanceof com.sun.management.OperatingSystemMXBean sun) {
      b.append("# HELP process_cpu_seconds_total CPU time of the control-plane process.\n")
          .append("# TYPE process_cpu_seconds_total counter\n")
          .append("process_cpu_seconds_total ").append(sun.getProcessCpuTime() / 1e9).append('\n');
    }
    var heap = java.lang.management.ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
    gauge(b, "jvm_memory_heap_used_bytes", "Heap in use.", heap.getUsed());
    gauge(b, "jvm_memory_heap_committed_bytes", "Heap committed by the JVM.", heap.getCommitted());
    gauge(b, "jvm_memory_heap_max_bytes", "Maximum heap (-Xmx).", heap.getMax());
    ControlPlane.PushStats push = cp.pushStats();
    b.append("# HELP trellis_config_push_duration_seconds Translating and publishing a config change.\n")
        .append("# TYPE trellis_config_push_duration_seconds summary\n")
        .append("trellis_config_push_duration_seconds_sum ").append(push.totalNanos() / 1e9).append('\n')
        .append("trellis_config_push_duration_seconds_count ").append(push.count()).append('\n');
    b.append("# HELP trellis_ca_certificates_signed_total Workload certificates signed.\n")
        .append("# TYPE trellis_ca_certificates_signed_total counter\n")
        .append("trellis_ca_certificates_signed_total ").append(cp.certificates().signed()).append('\n');
    b.append("# HELP trellis_ca_sign_failures_total Sign requests refused or failed, by reason.\n")
        .append("# TYPE trellis_ca_sign_failures_total counter\n");
    cp.certificates().failed().forEach((reason, n) -> b.append("trellis_ca_sign_failures_total{reason=\"")
        .append(reason.name().toLowerCase(java.util.Locale.ROOT)).append("\"} ").append(n).append('\n'));
    counter(b, "trellis_xds_responses_total", "xDS responses pushed, by type.", t -> cp.ads().metrics().pushes(t));
    counter(b, "trellis_xds_acks_total", "xDS ACKs received, by type.", t -> cp.ads().metrics().acks(t));
    counter(b, "trellis_xds_nacks_total", "xDS NACKs received, by type.", t -> cp.ads().metrics().nacks(t));
    gauge(b, "trellis_xds_anonymous_streams", "Open xDS streams of clients without a token.", cp.ads().anonymousStreams());
    b.append("# HELP trellis_control_plane_refusals_total Requests refused (bad or missing token, limits, malformed), "
        + "by service and reason.\n# TYPE trellis_control_plane_refusals_total counter\n");
    cp.refusals().counts().forEach((k, n) -> b.append("trellis_control_plane_refusals_total{service=\"")
        .append(k.service()).append("\",reason=\"").append(k.reason()).append("\"} ").append(n).append('\n'));
    long reviews = cp.tokenReviews();
    if (reviews >= 0) {
      b.append("# HELP trellis_tokenreviews_total TokenReviews sent to the API server (answers are cached).\n")
          .append("# TYPE trellis_tokenreviews_total counter\ntrellis_tokenreviews_total ").append(reviews).append('\n');
    }
    return b.toString();
  }

  private static void gauge(StringBuilder b, String name, String help, long value) {
    b.append("# HELP ").append(name).append(' ').append(help).append('\n')
        .append("# TYPE ").append(name).append(" gauge\n").append(name).append(' ').append(value).append('\n');
  }

  private static void counter(StringBuilder b, String name, String help, java.util.function.ToLongFunction<ResourceType> f) {
    b.append("# HELP ").append(name).append(' ').append(help).append('\n').append("# TYPE ").append(name).append(" counter\n");
    for (ResourceType t : ResourceType.values()) {
      b.append(name).append("{type=\"").append(t.shortName()).append("\"} ").append(f.applyAsLong(t)).append('\n');
    }
  }

  JsonElement clients(AdminAccess.Decision allowed) {
    String only = nodeOf(allowed);
    JsonArray out = new JsonArray();
    for (ClientStatus c : cp.ads().registry().clients(Duration.ofSeconds(2))) {
      if (only != null && !only.equals(c.node())) {
        continue;
      }
      JsonObject o = new JsonObject();
      o.addProperty("stream", c.streamId());
      o.addProperty("protocol", c.variant());
      o.addProperty("client", c.clientId());
      o.addProperty("principal", c.principal());
      o.addProperty("anonymous", c.anonymous());
      o.addProperty("node", c.node());
      o.addProperty("connectedAt", str(c.connectedAt()));
      o.addProperty("awaitingAckFor", c.inFlight());
      JsonArray types = new JsonArray();
      for (ClientStatus.TypeStatus t : c.types()) {
        JsonObject to = new JsonObject();
        to.addProperty("type", t.type());
        to.addProperty("wildcard", t.wildcard());
        to.addProperty("subscribedNames", t.subscribedNames());
        JsonArray some = new JsonArray();
        t.someNames().forEach(some::add);
        to.add("names", some);
        to.addProperty("resourcesHeld", t.resourcesHeld());
        to.addProperty("retainedEntries", t.retainedEntries());
        to.addProperty("ackedVersion", t.ackedVersion());
        to.addProperty("ackedAt", str(t.ackedAt()));
        to.addProperty("responses", t.responses());
        to.addProperty("acks", t.acks());
        to.addProperty("nacks", t.nacks());
        if (t.lastNackError() != null) {
          JsonObject nack = new JsonObject();
          nack.addProperty("version", t.lastNackVersion());
          nack.addProperty("error", t.lastNackError());
          nack.addProperty("at", str(t.lastNackAt()));
          to.add("lastNack", nack);
        } else {
          to.add("lastNack", JsonNull.INSTANCE);
        }
        types.add(to);
      }
      o.add("types", types);
      out.add(o);
    }
    return out;
  }

  JsonElement config(AdminAccess.Decision allowed) throws InvalidProtocolBufferException {
    String only = nodeOf(allowed);
    Snapshot s = cp.store().current();
    JsonObject o = new JsonObject();
    o.addProperty("version", s.version());
    if (only != null) {
      o.addProperty("node", only);
    }
    for (ResourceType t : ResourceType.values()) {
      JsonObject byName = new JsonObject();
      Map<String, XdsResource> all = new TreeMap<>(only == null ? s.all(t) : s.view(t, only));
      for (XdsResource r : all.values()) {
        JsonObject entry = new JsonObject();
        entry.addProperty("version", r.version());
        entry.add("resource", JsonParser.parseString(PROTO_JSON.print(t.unpack(r.body()))));
        byName.add(r.name(), entry);
      }
      o.add(t.shortName(), byName);
    }
    return o;
  }

  private static String str(Instant i) {
    return i == null ? null : i.toString();
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}
