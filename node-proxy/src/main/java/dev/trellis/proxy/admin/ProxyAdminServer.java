package dev.trellis.proxy.admin;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.trellis.proxy.http.PathNormalizer;
import dev.trellis.proxy.inbound.InboundRecords;
import java.io.IOException;
import java.io.OutputStream;
import java.net.BindException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The node proxy's two admin ports, served by one thread ({@code trellis-proxy-admin}):
 * <ul>
 *   <li>health and metrics (15020, on the node address, open to the node: the kubelet's probe, Prometheus):
 *       {@code /healthz/ready} and {@code /metrics} (Prometheus text format);</li>
 *   <li>debug (15000, loopback only, as Envoy's admin in Istio): the same two, plus what must not leak to whoever
 *       reaches the node — {@code /config_dump} (workloads, identities, policies, endpoints, as JSON),
 *       {@code /clusters} (endpoints, health, ejections, breaker counters) and {@code /connections} (recent inbound
 *       requests with the caller's identity).</li>
 * </ul>
 * On the health port the debug paths answer 404 naming the debug address. Plain text, one fact per line.
 */
public final class ProxyAdminServer implements AutoCloseable {

  /** What the health port serves; everything else is on the debug port only. */
  static final Set<String> HEALTH_PATHS = Set.of("/healthz/ready", "/metrics");
  /** The paths of the debug port. */
  static final Set<String> DEBUG_PATHS = Set.of("/healthz/ready", "/metrics", "/config_dump", "/clusters",
      "/connections");

  /** One admin answer. */
  record Page(int status, String body, String contentType) {
    static Page text(int status, String body) {
      return new Page(status, body, "text/plain; charset=utf-8");
    }
  }

  private final HttpServer health;
  private final HttpServer debug;
  private final ExecutorService executor;

  private ProxyAdminServer(HttpServer health, HttpServer debug, ExecutorService executor) {
    this.health = health;
    this.debug = debug;
    this.executor = executor;
  }

  /**
   * Where the debug port listens: the node address itself when it is a loopback address (local mode: each node
   * proxy on its own 127.0.N.1, so several share a machine with the default port), else the loopback address of
   * its family. Never an address another host can reach.
   */
  public static String debugBindAddress(String nodeAddress) {
    InetAddress a;
    try {
      a = InetAddress.ofLiteral(nodeAddress);
    } catch (IllegalArgumentException | NullPointerException e) {
      return "127.0.0.1";
    }
    if (a.isLoopbackAddress()) {
      return a.getHostAddress();
    }
    return a instanceof Inet6Address ? "::1" : "127.0.0.1";
  }

  /**
   * @param healthAddress health and metrics, open to the node (15020 on the node address)
   * @param debugAddress every page, loopback only (see {@link #debugBindAddress})
   * @param view what the pages show, read at each request
   * @param ticker nanoseconds, the clock the data path's outlier detection uses (ejection times)
   */
  public static ProxyAdminServer start(InetSocketAddress healthAddress, InetSocketAddress debugAddress, AdminView view,
      LongSupplier ticker) throws IOException {
    if (!debugAddress.getAddress().isLoopbackAddress()) {
      throw new IllegalArgumentException("debug admin address " + debugAddress + " is not a loopback address: "
          + "/config_dump and /connections show every workload and caller on the node");
    }
    Map<String, Supplier<Page>> pages = new LinkedHashMap<>();
    pages.put("/healthz/ready", () -> view.ready() ? Page.text(200, "ready\n")
        : view.draining() ? Page.text(503, "not ready: draining (stopping); new connections go elsewhere\n")
        : Page.text(503, "not ready: waiting for config from the control plane or SVIDs of local workloads\n"));
    pages.put("/metrics", () -> new Page(200, view.metricsText(), "text/plain; version=0.0.4; charset=utf-8"));
    pages.put("/config_dump", () -> new Page(200, ConfigDump.json(view.config(), view.identities()),
        "application/json; charset=utf-8"));
    pages.put("/clusters", () -> Page.text(200, AdminViews.clusters(view.clusters(), ticker.getAsLong())));
    pages.put("/connections", () -> Page.text(200, connections(view.recentInbound())));
    return start(healthAddress, debugAddress, pages);
  }

  /** Serves {@code pages}: those in {@link #HEALTH_PATHS} on both ports, the rest on the debug port only. */
  static ProxyAdminServer start(InetSocketAddress healthAddress, InetSocketAddress debugAddress,
      Map<String, Supplier<Page>> pages) throws IOException {
    HttpServer health = bind(healthAddress, "node proxy health and metrics");
    HttpServer debug;
    try {
      debug = bind(debugAddress, "node proxy debug admin, --debug-admin-port");
    } catch (IOException e) {
      health.stop(0);
      throw e;
    }
    ExecutorService executor = Executors.newSingleThreadExecutor(Thread.ofPlatform().name("trellis-proxy-admin").daemon()
        .factory());
    health.setExecutor(executor);
    debug.setExecutor(executor);
    String debugUrl = "http://" + hostPort(debug.getAddress());
    pages.forEach((path, page) -> {
      debug.createContext(path, ex -> reply(ex, page.get()));
      if (HEALTH_PATHS.contains(path)) {
        health.createContext(path, ex -> reply(ex, page.get()));
      }
    });
    health.createContext("/", ex -> reply(ex, Page.text(404, DEBUG_PATHS.contains(ex.getRequestURI().getPath())
        ? ex.getRequestURI().getPath() + " is on the debug admin port, which listens on loopback only: on the node, "
            + "curl " + debugUrl + ex.getRequestURI().getPath() + "\n"
        : "not found; this port serves " + String.join(", ", HEALTH_PATHS.stream().sorted().toList()) + "\n")));
    health.start();
    debug.start();
    return new ProxyAdminServer(health, debug, executor);
  }

  private static HttpServer bind(InetSocketAddress address, String what) throws IOException {
    try {
      return HttpServer.create(address, 32);
    } catch (BindException e) {
      throw new IOException("cannot listen on " + hostPort(address) + " (" + what + "): the port is in use", e);
    }
  }

  private static String hostPort(InetSocketAddress a) {
    String host = a.getAddress().getHostAddress();
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
  }

  static String connections(List<InboundRecords.Entry> recent) {
    StringBuilder b = new StringBuilder();
    for (InboundRecords.Entry e : recent) {
      b.append(e.at()).append(' ').append(e.status()).append(' ').append(e.peer() == null ? "plaintext" : e.peer()).append(" -> ").append(e.authority())
          .append(e.workload() == null ? "" : " (" + e.workload() + ")").append(" from ").append(e.peerAddress())
          .append(e.reason() == null ? "" : ": " + e.reason());
      String forwarded = e.claimed().get("forwarded");
      if (forwarded != null) { // the caller's word, shown as such and escaped: it is not verified
        b.append(" [caller claims forwarded: ").append(PathNormalizer.show(forwarded)).append(']');
      }
      b.append('\n');
    }
    return b.toString();
  }

  private static void reply(HttpExchange ex, Page page) throws IOException {
    byte[] bytes = page.body().getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", page.contentType());
    ex.sendResponseHeaders(page.status(), bytes.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(bytes);
    }
  }

  /** The health and metrics port. */
  public int port() {
    return health.getAddress().getPort();
  }

  /** Where the debug port listens (loopback). */
  public InetSocketAddress debugAddress() {
    return debug.getAddress();
  }

  @Override
  public void close() {
    health.stop(0);
    debug.stop(0);
    executor.shutdownNow();
  }
}
