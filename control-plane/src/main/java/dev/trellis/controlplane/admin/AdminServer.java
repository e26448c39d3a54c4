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
import dev.trellis.mesh.v1.Workload;
import dev.trellis.mtls.refusal.RefusalLog;
import dev.trellis.xds.cache.Snapshot;
import dev.trellis.xds.resource.ClientKind;
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
import io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions;
import java.io.IOException;
import java.io.OutputStream;
import java.net.BindException;
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
 * text of the process's metrics pipeline), {@code /debug/clients} (each xDS client, its subscriptions, ACKed versions, last NACK) and
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
      .add(OriginalDst.getDescriptor()).add(HttpProtocolOptions.getDescriptor()).build());

  /** The service label of this server's refusals. */
  public static final String SERVICE = "admin";

  private final HttpServer server;
  private final ExecutorService executor;
  private final AdminView view;
  private final AdminAccess access;
  private final RefusalLog refusals;

  private AdminServer(HttpServer server, ExecutorService executor, AdminView view, AdminAccess access,
      RefusalLog refusals) {
    this.server = server;
    this.executor = executor;
    this.view = view;
    this.access = access;
    this.refusals = refusals;
  }

  /**
   * Starts serving on {@code address}.
   *
   * @param view what the pages show, read at each request
   * @param access who may read {@code /debug/*}
   * @param refusals counts and logs refused debug requests (service {@value #SERVICE})
   */
  public static AdminServer start(InetSocketAddress address, AdminView view, AdminAccess access, RefusalLog refusals)
      throws IOException {
    HttpServer server;
    try {
      server = HttpServer.create(address, 64);
    } catch (BindException e) {
      throw new IOException("cannot listen on " + address + " (admin): the port is in use", e);
    }
    ExecutorService executor = Executors.newFixedThreadPool(2, Thread.ofPlatform().name("trellis-admin-", 0).daemon().factory());
    server.setExecutor(executor);
    AdminServer admin = new AdminServer(server, executor, view, access, refusals);
    server.createContext("/healthz/ready", ex -> admin.respond(ex, () -> admin.ready()));
    server.createContext("/healthz/live", ex -> admin.respond(ex, () -> new Reply(200, "text/plain", "live\n")));
    server.createContext("/metrics", ex -> admin.respond(ex, () -> new Reply(200, "text/plain; version=0.0.4", view.metricsText())));
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
    MeshFileSource.Status s = view.meshStatus();
    StringBuilder b = new StringBuilder("ready: serving snapshot ").append(view.snapshot().version()).append('\n');
    AdminView.ClusterStatus c = view.clusterStatus();
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

  JsonElement clients(AdminAccess.Decision allowed) {
    String only = nodeOf(allowed);
    JsonArray out = new JsonArray();
    for (ClientStatus c : view.clients(Duration.ofSeconds(2))) {
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
      o.addProperty("kind", c.kind());
      JsonArray notes = new JsonArray();
      c.notes().forEach(notes::add);
      o.add("notes", notes);
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
        to.addProperty("lateNacks", t.lateNacks());
        ClientStatus.LateNack late = t.lastLateNack();
        if (late != null) {
          JsonObject nack = new JsonObject();
          nack.addProperty("nonce", late.nonce());
          nack.addProperty("lastAcked", late.lastAcked());
          nack.addProperty("error", late.error());
          nack.addProperty("at", str(late.at()));
          to.add("lastLateNack", nack);
        } else {
          to.add("lastLateNack", JsonNull.INSTANCE);
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
    Snapshot s = view.snapshot();
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
        JsonObject variants = new JsonObject();
        for (ClientKind kind : ClientKind.values()) {
          Snapshot.Variant v = s.variant(t, kind, r.name());
          if (v != null) {
            JsonObject variant = new JsonObject();
            variant.addProperty("version", v.resource().version());
            variant.addProperty("note", v.note());
            variant.add("resource", JsonParser.parseString(PROTO_JSON.print(t.unpack(v.resource().body()))));
            variants.add(kind.label(), variant);
          }
        }
        if (!variants.isEmpty()) {
          entry.add("variants", variants); // what clients of that kind get instead
        }
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
