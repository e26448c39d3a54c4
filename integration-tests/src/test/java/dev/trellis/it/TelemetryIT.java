package dev.trellis.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.sun.net.httpserver.HttpServer;
import dev.trellis.controlplane.server.ControlPlane;
import dev.trellis.controlplane.server.ControlPlaneOptions;
import dev.trellis.proxy.NodeProxy;
import dev.trellis.proxy.NodeProxyOptions;
import dev.trellis.telemetry.Telemetry;
import dev.trellis.telemetry.config.TelemetrySettings;
import dev.trellis.telemetry.metrics.PrometheusFamilies;
import io.opentelemetry.api.common.Attributes;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The mesh's telemetry against real back ends: the control plane and two node proxies on loopback (node 1 at
 * 127.0.93.1 with the caller, node 2 at 127.0.94.1 with an HTTP backend), both exporting spans to a real Zipkin
 * server (the zipkin-server exec jar from Maven Central) with 100 % sampling; one request through them becomes one
 * trace whose client span (node 1) is the parent of the server span (node 2), with the mesh's attributes; and the
 * node proxies' Prometheus endpoints show the request counters and histograms moving as traffic flows.
 */
class TelemetryIT {

  static final String CALLER = "127.0.93.10";
  static ZipkinServer zipkin;
  static ControlPlane cp;
  static NodeProxy node1;
  static NodeProxy node2;
  static HttpServer backend;
  static final Queue<String> traceparents = new ConcurrentLinkedQueue<>();
  static final HttpClient http = HttpClient.newHttpClient();

  static Telemetry telemetry(String node) {
    return Telemetry.create(new TelemetrySettings(1.0, List.of(new TelemetrySettings.Exporter.Zipkin(
        zipkin.baseUri().resolve("/api/v2/spans"))), 2048, TelemetrySettings.AccessLogSettings.off()),
        "trellis-node-proxy", Attributes.builder().put("trellis.node", node).build());
  }

  @BeforeAll
  static void start() throws Exception {
    zipkin = ZipkinServer.start("telemetry-it");
    backend = HttpServer.create(new InetSocketAddress("127.0.94.10", 18080), 64);
    backend.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
    backend.createContext("/", ex -> {
      try (ex) {
        traceparents.add(String.valueOf(ex.getRequestHeaders().getFirst("traceparent")));
        byte[] body = "hello".getBytes();
        ex.sendResponseHeaders(ex.getRequestURI().getPath().equals("/fail") ? 503 : 200, body.length);
        ex.getResponseBody().write(body);
      }
    });
    backend.start();
    Path dir = Files.createTempDirectory("trellis-telemetry-it");
    Path mesh = dir.resolve("mesh.yaml");
    Files.writeString(mesh, """
        nodes:
          - {name: node-1, address: 127.0.93.1, token: it-telemetry-node-1-token}
          - {name: node-2, address: 127.0.94.1, token: it-telemetry-node-2-token}
        workloads:
          - {name: frontend-0, namespace: shop, serviceAccount: frontend, node: node-1, address: 127.0.93.10, labels: {app: frontend}}
          - {name: greeter-0, namespace: shop, serviceAccount: greeter, node: node-2, address: 127.0.94.10, labels: {app: greeter}}
        services:
          - {name: greeter, namespace: shop, vip: 10.96.93.1, selector: {app: greeter}, ports: [{name: http, port: 80, targetPort: 18080}]}
        """);
    cp = new ControlPlane(ControlPlaneOptions.local(mesh, dir.resolve("state")).withPorts(0, 0, 0), Clock.systemUTC()).start();
    String xds = "127.0.0.1:" + cp.xdsPort();
    node1 = new NodeProxy(NodeProxyOptions.local("node-1", "127.0.93.1", xds, "it-telemetry-node-1-token")
        .withPorts(0, 15008, 0).withInboundPort(0), Clock.systemUTC(), null, telemetry("node-1")).start();
    node2 = new NodeProxy(NodeProxyOptions.local("node-2", "127.0.94.1", xds, "it-telemetry-node-2-token")
        .withPorts(0, 15008, 0).withInboundPort(0), Clock.systemUTC(), null, telemetry("node-2")).start();
    await().atMost(Duration.ofSeconds(30)).until(() -> node1.ready() && node2.ready());
  }

  @AfterAll
  static void stop() throws Exception {
    for (AutoCloseable c : new AutoCloseable[] {node1, node2, cp, zipkin}) {
      if (c != null) {
        c.close();
      }
    }
    if (backend != null) {
      backend.stop(0);
    }
  }

  static MeshHttpClient.Response call(String path) throws Exception {
    try (MeshHttpClient c = MeshHttpClient.connect(new InetSocketAddress("127.0.93.1", node1.entryPort()), CALLER,
        "10.96.93.1", 80)) {
      return c.get(path);
    }
  }

  static Map<String, String> tags(JsonObject span) {
    Map<String, String> tags = new java.util.HashMap<>();
    if (span.has("tags")) {
      span.getAsJsonObject("tags").entrySet().forEach(e -> tags.put(e.getKey(), e.getValue().getAsString()));
    }
    return tags;
  }

  @Test
  void oneRequestThroughTwoNodeProxiesIsOneTraceInZipkinWithLinkedClientAndServerSpans() throws Exception {
    assertThat(call("/hello").status()).isEqualTo(200);
    String traceparent = traceparents.stream().reduce((a, b) -> b).orElseThrow();
    String traceId = traceparent.split("-")[1];

    await().atMost(Duration.ofSeconds(30)).until(() -> zipkin.spans(traceId).size() == 2);
    List<JsonObject> spans = new ArrayList<>();
    for (JsonElement e : zipkin.spans(traceId)) {
      spans.add(e.getAsJsonObject());
    }
    JsonObject client = spans.stream().filter(s -> "CLIENT".equals(s.get("kind").getAsString())).findFirst().orElseThrow();
    JsonObject server = spans.stream().filter(s -> "SERVER".equals(s.get("kind").getAsString())).findFirst().orElseThrow();
    assertThat(server.get("parentId").getAsString()).as("the destination's span is the source's child")
        .isEqualTo(client.get("id").getAsString());
    assertThat(traceparent).as("the backend's parent is the server span").contains("-" + server.get("id").getAsString() + "-");
    assertThat(client.getAsJsonObject("localEndpoint").get("serviceName").getAsString()).isEqualTo("trellis-node-proxy");
    assertThat(server.getAsJsonObject("localEndpoint").get("serviceName").getAsString()).isEqualTo("trellis-node-proxy");
    assertThat(tags(client)).containsEntry("trellis.source.workload", "shop/frontend-0")
        .containsEntry("trellis.destination.service", "greeter.shop.svc.cluster.local")
        .containsEntry("trellis.destination.workload", "greeter-0")
        .containsEntry("trellis.security_policy", "mutual_tls")
        .containsEntry("http.request.method", "GET")
        .containsEntry("http.response.status_code", "200");
    assertThat(tags(server)).containsEntry("trellis.source.principal", "spiffe://cluster.local/ns/shop/sa/frontend")
        .containsEntry("trellis.destination.workload", "shop/greeter-0")
        .containsEntry("trellis.direction", "inbound");
    JsonArray byService = zipkin.traces("trellis-node-proxy");
    assertThat(byService.size()).isGreaterThanOrEqualTo(1);
  }

  static String metrics(NodeProxy node, String address) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://" + address + ":" + node.adminPort() + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString()).body();
  }

  /** The value of the first sample of {@code metric} whose labels contain every one of {@code labels}, or 0. */
  static double sample(String text, String metric, String... labels) {
    Matcher m = Pattern.compile("^" + Pattern.quote(metric) + "\\{([^}]*)\\} (\\S+)$", Pattern.MULTILINE).matcher(text);
    double total = 0;
    while (m.find()) {
      String l = m.group(1);
      boolean all = true;
      for (String label : labels) {
        all &= l.contains(label);
      }
      if (all) {
        total += Double.parseDouble(m.group(2));
      }
    }
    return total;
  }

  @Test
  void thePrometheusEndpointsCountAndTimeRequestsAsTrafficFlows() throws Exception {
    String service = "trellis_destination_service=\"greeter.shop.svc.cluster.local\"";
    double before = sample(metrics(node1, "127.0.93.1"), "http_client_request_duration_seconds_count", service);
    double serverBefore = sample(metrics(node2, "127.0.94.1"), "http_server_request_duration_seconds_count",
        "http_response_status_code=\"503\"");
    for (int i = 0; i < 5; i++) {
      assertThat(call("/ok").status()).isEqualTo(200);
    }
    assertThat(call("/fail").status()).isEqualTo(503);
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
      String source = metrics(node1, "127.0.93.1");
      assertThat(sample(source, "http_client_request_duration_seconds_count", service)).isEqualTo(before + 6);
      assertThat(sample(source, "http_client_request_duration_seconds_bucket", service, "le=\"+Inf\""))
          .isGreaterThanOrEqualTo(before + 6);
      assertThat(sample(source, "http_client_request_duration_seconds_sum", service)).isPositive();
      String destination = metrics(node2, "127.0.94.1");
      assertThat(sample(destination, "http_server_request_duration_seconds_count",
          "http_response_status_code=\"503\"", "trellis_source_namespace=\"shop\"")).isEqualTo(serverBefore + 1);
      assertThat(source).contains("trellis_telemetry_spans_dropped_total")
          .contains("trellis_proxy_hbone_connections");
    });
    // One pipeline, one text: the proxy's own metrics, the telemetry's drop counters and the mesh's, each family once.
    AdminMetricFamilies.assertFamilies(metrics(node1, "127.0.93.1"), join(AdminMetricFamilies.NODE_PROXY,
        AdminMetricFamilies.TELEMETRY), AdminMetricFamilies.MESH, AdminMetricFamilies.NODE_PROXY_ON_EVENTS);
    assertThat(PrometheusFamilies.parse(metrics(node1, "127.0.93.1")))
        .containsKey("http_client_request_duration_seconds");
    AdminMetricFamilies.assertFamilies(metrics(node2, "127.0.94.1"), join(AdminMetricFamilies.NODE_PROXY,
        AdminMetricFamilies.TELEMETRY), AdminMetricFamilies.MESH, AdminMetricFamilies.NODE_PROXY_ON_EVENTS);
  }

  private static Map<String, AdminMetricFamilies.Spec> join(Map<String, AdminMetricFamilies.Spec> a,
      Map<String, AdminMetricFamilies.Spec> b) {
    Map<String, AdminMetricFamilies.Spec> out = new HashMap<>(a);
    out.putAll(b);
    return out;
  }
}
