package dev.trellis.proxy.admin;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.trellis.proxy.NodeProxy;
import dev.trellis.proxy.inbound.InboundRecords;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.LongSupplier;

/**
 * The node proxy's admin port (15020): {@code /healthz/ready}, {@code /config_dump} (what the proxy
 * runs, as JSON), {@code /clusters} (endpoints, health, ejections, breaker counters), {@code /metrics}
 * (Prometheus text format) and {@code /connections} (recent inbound requests with the caller's
 * identity). Plain text, one fact per line, for people and grep.
 */
public final class ProxyAdminServer implements AutoCloseable {

  private final HttpServer server;
  private final ExecutorService executor;

  private ProxyAdminServer(HttpServer server, ExecutorService executor) {
    this.server = server;
    this.executor = executor;
  }

  /**
   * @param ticker nanoseconds, the clock the data path's outlier detection uses (ejection times)
   */
  public static ProxyAdminServer start(InetSocketAddress address, NodeProxy proxy, LongSupplier ticker)
      throws IOException {
    HttpServer server;
    try {
      server = HttpServer.create(address, 32);
    } catch (java.net.BindException e) {
      throw new IOException("cannot listen on " + address + " (node proxy admin): the port is in use", e);
    }
    ExecutorService executor = Executors.newSingleThreadExecutor(Thread.ofPlatform().name("trellis-proxy-admin").daemon()
        .factory());
    server.setExecutor(executor);
    server.createContext("/healthz/ready", ex -> reply(ex, proxy.ready() ? 200 : 503,
        proxy.ready() ? "ready\n" : "not ready: waiting for config from the control plane or SVIDs of local workloads\n"));
    server.createContext("/config_dump", ex -> reply(ex, 200, ConfigDump.json(proxy.config(),
        proxy.certificates().status().values()), "application/json; charset=utf-8"));
    server.createContext("/clusters", ex -> reply(ex, 200, AdminViews.clusters(proxy.clusters().all(),
        ticker.getAsLong())));
    server.createContext("/metrics", ex -> reply(ex, 200, AdminViews.metrics(proxy.clusters().all(), facts(proxy),
        ticker.getAsLong()) + proxy.telemetry().prometheusText(), "text/plain; version=0.0.4; charset=utf-8"));
    server.createContext("/connections", ex -> reply(ex, 200, connections(proxy.inbound())));
    server.start();
    return new ProxyAdminServer(server, executor);
  }

  private static AdminViews.ProxyFacts facts(NodeProxy proxy) {
    return new AdminViews.ProxyFacts(proxy.ready(), Long.toString(proxy.config().version()), proxy.outbound().hboneConnections(),
        proxy.outbound().upstreamConnections(), proxy.inbound().countByStatus(), proxy.certificates().status().values(),
        proxy.outbound().unobservedConnections());
  }

  static String connections(InboundRecords records) {
    StringBuilder b = new StringBuilder();
    for (InboundRecords.Entry e : records.recent()) {
      b.append(e.at()).append(' ').append(e.status()).append(' ').append(e.peer() == null ? "plaintext" : e.peer()).append(" -> ").append(e.authority())
          .append(e.workload() == null ? "" : " (" + e.workload() + ")").append(" from ").append(e.peerAddress())
          .append(e.reason() == null ? "" : ": " + e.reason());
      String forwarded = e.claimed().get("forwarded");
      if (forwarded != null) { // the caller's word, shown as such and escaped: it is not verified
        b.append(" [caller claims forwarded: ").append(dev.trellis.proxy.inbound.PathNormalizer.show(forwarded)).append(']');
      }
      b.append('\n');
    }
    return b.toString();
  }

  private static void reply(HttpExchange ex, int status, String body) throws IOException {
    reply(ex, status, body, "text/plain; charset=utf-8");
  }

  private static void reply(HttpExchange ex, int status, String body, String contentType) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", contentType);
    ex.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(bytes);
    }
  }

  public int port() {
    return server.getAddress().getPort();
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}
