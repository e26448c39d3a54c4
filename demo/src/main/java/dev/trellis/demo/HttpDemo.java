package dev.trellis.demo;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.function.DoubleSupplier;

/**
 * The demo HTTP service: answers every request with one line of JSON naming the workload, its
 * version and the tracing / caller headers it received; fails a fraction of requests with 503 and
 * delays answers when told to (see {@link DemoSettings}).
 */
final class HttpDemo implements AutoCloseable {

  /** Request headers echoed back: trace context and whatever a proxy says about the caller. */
  static final List<String> ECHOED = List.of("traceparent", "x-forwarded-client-cert", "x-trellis-");

  private final List<HttpServer> servers = new ArrayList<>();

  HttpDemo(DemoSettings settings, DoubleSupplier random) throws IOException {
    for (int port : settings.ports()) {
      HttpServer server = HttpServer.create(new InetSocketAddress(settings.address(), port), 128);
      server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
      server.createContext("/", ex -> handle(ex, settings, random));
      servers.add(server);
    }
  }

  HttpDemo start() {
    servers.forEach(HttpServer::start);
    return this;
  }

  /** The port the n-th server listens on (useful when started on port 0). */
  int port(int n) {
    return servers.get(n).getAddress().getPort();
  }

  private static void handle(HttpExchange ex, DemoSettings settings, DoubleSupplier random) throws IOException {
    try (InputStream body = ex.getRequestBody()) {
      body.transferTo(OutputStream.nullOutputStream());
    }
    try {
      if (!settings.latency().isZero()) {
        Thread.sleep(settings.latency());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    boolean fail = settings.failRate() > 0 && random.getAsDouble() < settings.failRate();
    byte[] out = answer(settings, ex, fail ? 503 : 200).getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("content-type", "application/json");
    ex.sendResponseHeaders(fail ? 503 : 200, out.length);
    ex.getResponseBody().write(out);
    ex.close();
  }

  static String answer(DemoSettings settings, HttpExchange ex, int status) {
    Map<String, String> seen = new TreeMap<>();
    ex.getRequestHeaders().forEach((name, values) -> {
      String lower = name.toLowerCase(Locale.ROOT);
      if (ECHOED.stream().anyMatch(lower::startsWith)) {
        seen.put(lower, String.join(",", values));
      }
    });
    StringBuilder b = new StringBuilder("{\"workload\":").append(quote(settings.name()))
        .append(",\"version\":").append(quote(settings.version()))
        .append(",\"status\":").append(status)
        .append(",\"path\":").append(quote(ex.getRequestURI().toString()))
        .append(",\"headers\":{");
    String sep = "";
    for (Map.Entry<String, String> e : seen.entrySet()) {
      b.append(sep).append(quote(e.getKey())).append(':').append(quote(e.getValue()));
      sep = ",";
    }
    return b.append("}}\n").toString();
  }

  static String quote(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        default -> {
          if (c < 0x20) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    return b.append('"').toString();
  }

  @Override
  public void close() {
    servers.forEach(s -> s.stop(0));
  }

}
