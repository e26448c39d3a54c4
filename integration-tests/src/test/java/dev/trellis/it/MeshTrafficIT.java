package dev.trellis.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpServer;
import dev.trellis.controlplane.server.ControlPlane;
import dev.trellis.controlplane.server.ControlPlaneOptions;
import dev.trellis.demo.grpc.GreeterGrpc;
import dev.trellis.demo.grpc.HelloReply;
import dev.trellis.demo.grpc.HelloRequest;
import dev.trellis.proxy.NodeProxy;
import dev.trellis.proxy.NodeProxyOptions;
import dev.trellis.proxy.route.RouteTable;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The node proxy's L7 and L4 behaviour end to end on loopback: the control plane reads a mesh file,
 * its CA signs each workload's SVID, and two node proxies (node 1 at 127.0.91.1 with the callers,
 * node 2 at 127.0.92.1 with the backends) carry every call over HBONE as the caller's identity.
 * Callers enter through node 1's SOCKS entry from their own workload address (local mode has no
 * transparent capture); backends are plain HTTP servers on their workload addresses.
 */
class MeshTrafficIT {

  static final int BACKEND_PORT = 18080;
  static final String CLIENT = "127.0.91.10";
  static final String INTRUDER = "127.0.91.11";
  static final String WEB_VIP = "10.96.91.1";
  static final String RETRY_VIP = "10.96.91.2";
  static final String EJECT_VIP = "10.96.91.3";
  static final String SLOW_VIP = "10.96.91.4";
  static final String BULK_VIP = "10.96.91.5";
  static final String PRIVATE_VIP = "10.96.91.6";
  static final String SECURE_VIP = "10.96.91.7";
  static final String GREETER_VIP = "10.96.91.8";

  static Path mesh;
  static ControlPlane cp;
  static NodeProxy node1;
  static NodeProxy node2;
  static final List<HttpServer> backends = new ArrayList<>();
  static final ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
  static final Map<String, AtomicInteger> served = new ConcurrentHashMap<>();
  static final AtomicBoolean ejectFailing = new AtomicBoolean(true);
  static volatile CountDownLatch release = new CountDownLatch(0);
  static final AtomicInteger held = new AtomicInteger();
  static ServerSocket bulk;
  static GreeterBackend greeter;

  static String meshFile(String webBackends, String extraServices) {
    return """
        nodes:
          - {name: node-1, address: 127.0.91.1, token: it-mesh-node-1-token-0123}
          - {name: node-2, address: 127.0.92.1, token: it-mesh-node-2-token-0123}
        workloads:
          - {name: client-0, namespace: demo, serviceAccount: client, node: node-1, address: 127.0.91.10, labels: {app: client}}
          - {name: intruder-0, namespace: other, serviceAccount: intruder, node: node-1, address: 127.0.91.11}
          - {name: web-v1-0, namespace: demo, serviceAccount: web, node: node-2, address: 127.0.92.10, labels: {app: web, version: v1}}
          - {name: web-v2-0, namespace: demo, serviceAccount: web, node: node-2, address: 127.0.92.11, labels: {app: web, version: v2}}
          - {name: retry-0, namespace: demo, serviceAccount: web, node: node-2, address: 127.0.92.20, labels: {app: retry}}
          - {name: retry-1, namespace: demo, serviceAccount: web, node: node-2, address: 127.0.92.21, labels: {app: retry}}
          - {name: eject-0, namespace: demo, serviceAccount: web, node: node-2, address: 127.0.92.22, labels: {app: eject}}
          - {name: eject-1, namespace: demo, serviceAccount: web, node: node-2, address: 127.0.92.23, labels: {app: eject}}
          - {name: slow-0, namespace: demo, serviceAccount: web, node: node-2, address: 127.0.92.30, labels: {app: slow}}
          - {name: bulk-0, namespace: demo, serviceAccount: bulk, node: node-2, address: 127.0.92.40, labels: {app: bulk}}
          - {name: private-0, namespace: demo, serviceAccount: private, node: node-2, address: 127.0.92.50, labels: {app: private}}
          - {name: secure-0, namespace: demo, serviceAccount: secure, node: node-2, address: 127.0.92.60, labels: {app: secure}, mtls: strict}
          - {name: greeter-0, namespace: demo, serviceAccount: greeter, node: node-2, address: 127.0.92.70, labels: {app: greeter}}
        services:
          - {name: web, namespace: demo, vip: 10.96.91.1, selector: {app: web}, ports: [{name: http, port: 80, targetPort: 18080}]}
          - {name: web-v2, namespace: demo, selector: {app: web, version: v2}, ports: [{name: http, port: 80, targetPort: 18080}]}
          - {name: retry, namespace: demo, vip: 10.96.91.2, selector: {app: retry}, ports: [{name: http, port: 80, targetPort: 18080}]}
          - {name: eject, namespace: demo, vip: 10.96.91.3, selector: {app: eject}, ports: [{name: http, port: 80, targetPort: 18080}]}
          - {name: slow, namespace: demo, vip: 10.96.91.4, selector: {app: slow}, ports: [{name: http, port: 80, targetPort: 18080}]}
          - {name: bulk, namespace: demo, vip: 10.96.91.5, selector: {app: bulk}, ports: [{name: tcp, port: 9000, targetPort: 18080}]}
          - {name: private, namespace: demo, vip: 10.96.91.6, selector: {app: private}, ports: [{name: http, port: 80, targetPort: 18080}]}
          - {name: secure, namespace: demo, vip: 10.96.91.7, selector: {app: secure}, ports: [{name: http, port: 80, targetPort: 18080}]}
          - {name: greeter, namespace: demo, vip: 10.96.91.8, selector: {app: greeter}, ports: [{port: 80, targetPort: 18080, protocol: grpc}]}
        %s
        routes:
          - name: web-split
            namespace: demo
            service: web
            rules:
              - backends: %s
          - name: retry
            namespace: demo
            service: retry
            rules:
              - backends: [{service: retry}]
                retry: {attempts: 2, on: [5xx], backoff: {base: 5ms, max: 20ms}}
          - name: eject
            namespace: demo
            service: eject
            rules:
              - backends: [{service: eject}]
                retry: {attempts: 2, on: [5xx], backoff: {base: 5ms, max: 20ms}}
        policies:
          - {name: eject, namespace: demo, service: eject, outlierDetection: {consecutive5xx: 3, interval: 1s, baseEjectionTime: 2s, maxEjectionPercent: 50}}
          - {name: slow, namespace: demo, service: slow, connectionPool: {maxRequests: 4}}
        authorizations:
          - name: private-readers
            namespace: demo
            selector: {app: private}
            action: allow
            rules:
              - {from: ["spiffe://cluster.local/ns/demo/sa/client"], methods: [GET]}
        """.formatted(extraServices, webBackends);
  }

  static final String WEB_80_20 = "[{service: web-v1, weight: 80}, {service: web-v2, weight: 20}]";
  static final String WEB_V1_SERVICE =
      "  - {name: web-v1, namespace: demo, selector: {app: web, version: v1}, ports: [{name: http, port: 80, targetPort: 18080}]}";

  @BeforeAll
  static void start() throws Exception {
    for (String[] b : new String[][] {{"web-v1-0", "127.0.92.10"}, {"web-v2-0", "127.0.92.11"},
        {"retry-0", "127.0.92.20"}, {"retry-1", "127.0.92.21"}, {"eject-0", "127.0.92.22"}, {"eject-1", "127.0.92.23"},
        {"slow-0", "127.0.92.30"}, {"private-0", "127.0.92.50"}, {"secure-0", "127.0.92.60"}}) {
      backends.add(backend(b[0], b[1]));
    }
    bulk = new ServerSocket(BACKEND_PORT, 50, java.net.InetAddress.getByName("127.0.92.40"));
    greeter = new GreeterBackend("greeter-0", "127.0.92.70", BACKEND_PORT);
    threads.submit(MeshTrafficIT::echo);
    Path dir = Files.createTempDirectory("trellis-mesh-it");
    mesh = dir.resolve("mesh.yaml");
    Files.writeString(mesh, meshFile(WEB_80_20, WEB_V1_SERVICE));
    cp = new ControlPlane(ControlPlaneOptions.local(mesh, dir.resolve("state")).withPorts(0, 0, 0), Clock.systemUTC()).start();
    String xds = "127.0.0.1:" + cp.xdsPort();
    node1 = new NodeProxy(NodeProxyOptions.local("node-1", "127.0.91.1", xds, "it-mesh-node-1-token-0123")
        .withPorts(0, 15008, 0).withInboundPort(0), Clock.systemUTC()).start();
    node2 = new NodeProxy(NodeProxyOptions.local("node-2", "127.0.92.1", xds, "it-mesh-node-2-token-0123")
        .withPorts(0, 15008, 0).withInboundPort(0), Clock.systemUTC()).start();
    await().atMost(Duration.ofSeconds(30)).until(() -> node1.ready() && node2.ready());
  }

  @AfterAll
  static void stop() throws Exception {
    for (AutoCloseable c : new AutoCloseable[] {node1, node2, cp, bulk, greeter}) {
      if (c != null) {
        c.close();
      }
    }
    backends.forEach(s -> s.stop(0));
    threads.shutdownNow();
  }

  /**
   * An HTTP backend answering with its own name: {@code retry-0} always fails with 503,
   * {@code eject-0} while {@link #ejectFailing}, {@code slow-0} holds each request until
   * {@link #release} opens.
   */
  static HttpServer backend(String name, String address) throws IOException {
    HttpServer server = HttpServer.create(new InetSocketAddress(address, BACKEND_PORT), 64);
    server.setExecutor(threads);
    served.put(name, new AtomicInteger());
    server.createContext("/", ex -> {
      try (ex) {
        ex.getRequestBody().readAllBytes();
        served.get(name).incrementAndGet();
        int status = 200;
        if (name.equals("retry-0") || (name.equals("eject-0") && ejectFailing.get())) {
          status = 503;
        }
        if (name.equals("slow-0") || ex.getRequestURI().getPath().equals("/hold")) {
          held.incrementAndGet();
          try {
            release.await(30, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          } finally {
            held.decrementAndGet();
          }
        }
        byte[] body = name.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("x-served-by", name);
        ex.sendResponseHeaders(status, body.length);
        ex.getResponseBody().write(body);
      }
    });
    server.start();
    return server;
  }

  /** Echoes every connection byte for byte until the client closes its side. */
  static void echo() {
    while (!bulk.isClosed()) {
      try {
        Socket s = bulk.accept();
        threads.submit(() -> {
          try (s; InputStream in = s.getInputStream(); OutputStream out = s.getOutputStream()) {
            byte[] buf = new byte[64 * 1024];
            for (int n = in.read(buf); n >= 0; n = in.read(buf)) {
              out.write(buf, 0, n);
            }
          }
          return null;
        });
      } catch (IOException e) {
        return;
      }
    }
  }

  static MeshHttpClient client(String source, String vip) throws IOException {
    return MeshHttpClient.connect(new InetSocketAddress("127.0.91.1", node1.entryPort()), source, vip, 80);
  }

  /** A page of the health and metrics port (15020 on the node address). */
  static String admin(NodeProxy node, String path) throws Exception {
    HttpResponse<String> r = get("http://" + node.options().address() + ":" + node.adminPort() + path);
    assertThat(r.statusCode()).as(path).isEqualTo(200);
    return r.body();
  }

  /** A page of the debug admin port (loopback only: the node's own 127.0.N.1 in local mode). */
  static String debug(NodeProxy node, String path) throws Exception {
    HttpResponse<String> r = get("http://" + node.debugAdminAddress().getAddress().getHostAddress() + ":"
        + node.debugAdminAddress().getPort() + path);
    assertThat(r.statusCode()).as(path).isEqualTo(200);
    return r.body();
  }

  private static HttpResponse<String> get(String url) throws Exception {
    try (HttpClient http = HttpClient.newHttpClient()) {
      return http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
    }
  }

  /** Issue 16, item 5: what the node port shows is health and metrics; workloads, policies and callers are not. */
  @Test
  void theNodePortServesHealthAndMetricsAndTheDebugPagesOnlyOnLoopback() throws Exception {
    assertThat(node1.debugAdminAddress()).isEqualTo(new InetSocketAddress("127.0.91.1", 15000));
    for (String path : List.of("/config_dump", "/clusters", "/connections")) {
      HttpResponse<String> r = get("http://127.0.91.1:" + node1.adminPort() + path);
      assertThat(r.statusCode()).as(path).isEqualTo(404);
      assertThat(r.body()).contains("curl http://127.0.91.1:15000" + path);
      debug(node1, path);
    }
    assertThat(admin(node1, "/healthz/ready")).isEqualTo("ready\n");
  }

  /**
   * Issue 17, item 5: the admin ports' metrics come from the metrics pipeline under the names, types and labels they
   * always had. This class's proxies run with telemetry off: their ports still serve the proxy's own metrics.
   */
  @Test
  void theAdminPortsServeTheMetricFamiliesDashboardsKnowAlsoWithTelemetryOff() throws Exception {
    for (NodeProxy node : List.of(node1, node2)) {
      AdminMetricFamilies.assertFamilies(admin(node, "/metrics"), AdminMetricFamilies.NODE_PROXY,
          AdminMetricFamilies.NODE_PROXY_ON_EVENTS);
      AdminMetricFamilies.assertFamilies(debug(node, "/metrics"), AdminMetricFamilies.NODE_PROXY,
          AdminMetricFamilies.NODE_PROXY_ON_EVENTS);
    }
    assertThat(admin(node1, "/metrics")).contains("trellis_proxy_ready 1.0\n");
    AdminMetricFamilies.assertFamilies(get("http://127.0.0.1:" + cp.adminPort() + "/metrics").body(),
        AdminMetricFamilies.CONTROL_PLANE, AdminMetricFamilies.CONTROL_PLANE_AFTER_A_PUSH,
        AdminMetricFamilies.CONTROL_PLANE_ON_EVENTS);
  }

  static void rewriteMesh(String content) throws IOException {
    Path tmp = mesh.resolveSibling("mesh.yaml.tmp");
    Files.writeString(tmp, content);
    Files.move(tmp, mesh, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  @Test
  void weightedSplitHoldsWithinTolerance() throws Exception {
    int v1 = 0;
    int n = 1000;
    try (MeshHttpClient c = client(CLIENT, WEB_VIP)) {
      for (int i = 0; i < n; i++) {
        MeshHttpClient.Response r = c.get("/split");
        assertThat(r.status()).isEqualTo(200);
        if (r.body().equals("web-v1-0")) {
          v1++;
        } else {
          assertThat(r.body()).isEqualTo("web-v2-0");
        }
      }
    }
    String dump = debug(node1, "/config_dump");
    var routes = com.google.gson.JsonParser.parseString(dump).getAsJsonObject().getAsJsonArray("routes");
    assertThat(routes.asList()).as("the route node 1 runs, in /config_dump").anySatisfy(r -> {
      assertThat(r.getAsJsonObject().get("name").getAsString()).isEqualTo("web.demo.svc.cluster.local:80");
      assertThat(r.toString()).contains("\"cluster\":\"outbound|80||web-v1.demo.svc.cluster.local\",\"weight\":80");
    });
    double sigma = Math.sqrt(n * 0.8 * 0.2);
    assertThat((double) v1).as("v1 share of %d requests at 80/20", n).isBetween(800 - 4.5 * sigma, 800 + 4.5 * sigma);
  }

  @Test
  void aFailingEndpointIsHiddenByRetriesOnAnotherHost() throws Exception {
    int before = served.get("retry-0").get();
    try (MeshHttpClient c = client(CLIENT, RETRY_VIP)) {
      for (int i = 0; i < 200; i++) {
        MeshHttpClient.Response r = c.get("/r");
        assertThat(r.status()).as("request %d", i).isEqualTo(200);
        assertThat(r.body()).isEqualTo("retry-1");
      }
    }
    assertThat(served.get("retry-0").get() - before).as("the failing endpoint was tried").isGreaterThan(50);
    assertThat(admin(node1, "/metrics")).containsPattern(
        "trellis_proxy_cluster_retries_total\\{cluster=\"outbound\\|80\\|\\|retry.demo.svc.cluster.local\"} ([5-9]\\d|\\d{3,})\\.0\n");
  }

  @Test
  void aFailingEndpointIsEjectedAndReturnsWhenHealthy() throws Exception {
    ejectFailing.set(true);
    try (MeshHttpClient c = client(CLIENT, EJECT_VIP)) {
      await().atMost(Duration.ofSeconds(10)).until(() -> {
        assertThat(c.get("/e").status()).isEqualTo(200);
        return debug(node1, "/clusters").contains("127.0.92.22:18080 ejected");
      });
      int failing = served.get("eject-0").get();
      for (int i = 0; i < 20; i++) {
        assertThat(c.get("/e").body()).isEqualTo("eject-1");
      }
      assertThat(served.get("eject-0").get()).as("no traffic while ejected").isEqualTo(failing);
      assertThat(admin(node1, "/metrics")).contains(
          "trellis_proxy_cluster_endpoints{cluster=\"outbound|80||eject.demo.svc.cluster.local\",health=\"ejected\"} 1.0\n");

      ejectFailing.set(false);
      await().atMost(Duration.ofSeconds(15)).until(() -> c.get("/e").body().equals("eject-0"));
      assertThat(debug(node1, "/clusters")).contains("127.0.92.22:18080 healthy");
    }
  }

  @Test
  void theBreakerOverflowsFastUnderConcurrentLoadAndRecovers() throws Exception {
    release = new CountDownLatch(1);
    int concurrent = 20;
    List<Future<MeshHttpClient.Response>> answers = new ArrayList<>();
    List<MeshHttpClient> clients = new ArrayList<>();
    try {
      for (int i = 0; i < concurrent; i++) {
        MeshHttpClient c = client(CLIENT, SLOW_VIP);
        clients.add(c);
        answers.add(threads.submit(() -> c.get("/slow")));
      }
      await().atMost(Duration.ofSeconds(10)).until(() -> held.get() == 4
          && answers.stream().filter(Future::isDone).count() == concurrent - 4);
      for (Future<MeshHttpClient.Response> f : answers) {
        if (f.isDone()) {
          MeshHttpClient.Response r = f.get();
          assertThat(r.status()).isEqualTo(503);
          assertThat(r.header("x-trellis-response-flags")).isEqualTo("UO");
          assertThat(r.header("x-trellis-overloaded")).isEqualTo("true");
        }
      }
      release.countDown();
      for (Future<MeshHttpClient.Response> f : answers) {
        assertThat(f.get(10, TimeUnit.SECONDS).status()).isIn(200, 503);
      }
      assertThat(answers.stream().filter(f -> f.resultNow().status() == 200).count()).isEqualTo(4);
      // Recovered: the held slots are free again, so a new burst within the limit all succeeds.
      List<Future<MeshHttpClient.Response>> again = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        MeshHttpClient c = clients.get(i);
        again.add(threads.submit(() -> c.get("/slow")));
      }
      for (Future<MeshHttpClient.Response> f : again) {
        assertThat(f.get(10, TimeUnit.SECONDS).status()).isEqualTo(200);
      }
    } finally {
      release.countDown();
      for (MeshHttpClient c : clients) {
        c.close();
      }
    }
    assertThat(debug(node1, "/clusters")).contains("requests=0/4 overflow=16");
  }

  /**
   * Issue 18, item 2: a workload is spoken to in its port's declared protocol, whatever the caller speaks — the web
   * backends are the JDK's HTTP/1.1-only server (port declared http), the greeter a gRPC server (declared grpc).
   */
  @Test
  void anH2cClientReachesAnHttp1OnlyServiceAndBothProtocolsReachAGrpcService() throws Exception {
    InetSocketAddress entry = new InetSocketAddress("127.0.91.1", node1.entryPort());
    try (H2cClient c = new H2cClient(MeshHttpClient.socks(entry, CLIENT, WEB_VIP, 80))) {
      for (int i = 0; i < 3; i++) {
        H2cClient.Response r = c.send(new DefaultHttp2Headers().method("GET").path("/h2c").scheme("http")
            .authority("web.demo.svc.cluster.local"), null);
        assertThat(r.status()).as("flags %s", r.headers() == null ? "reset" : r.headers().get("x-trellis-response-flags"))
            .isEqualTo(200);
        assertThat(new String(r.body(), StandardCharsets.UTF_8)).startsWith("web-v");
      }
    }
    byte[] hello = HelloRequest.newBuilder().setName("h2").build().toByteArray();
    byte[] frame = new byte[5 + hello.length];
    frame[4] = (byte) hello.length;
    System.arraycopy(hello, 0, frame, 5, hello.length);
    String method = "/" + GreeterGrpc.getSayHelloMethod().getFullMethodName();
    try (H2cClient c = new H2cClient(MeshHttpClient.socks(entry, CLIENT, GREETER_VIP, 80))) {
      H2cClient.Response r = c.send(new DefaultHttp2Headers().method("POST").path(method).scheme("http")
          .authority("greeter.demo.svc.cluster.local").add("content-type", "application/grpc").add("te", "trailers"),
          frame);
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.trailers().get("grpc-status")).hasToString("0");
      assertThat(HelloReply.parseFrom(Arrays.copyOfRange(r.body(), 5, r.body().length)).getWorkload())
          .isEqualTo("greeter-0");
    }
    try (Socket s = MeshHttpClient.socks(entry, CLIENT, GREETER_VIP, 80)) {
      s.getOutputStream().write(("POST " + method + " HTTP/1.1\r\nHost: greeter.demo.svc.cluster.local\r\n"
          + "Content-Type: application/grpc\r\nTE: trailers\r\nConnection: close\r\nContent-Length: " + frame.length
          + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      s.getOutputStream().write(frame);
      String raw = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1).toLowerCase(Locale.ROOT);
      assertThat(raw).as("an HTTP/1.1 caller of the HTTP/2 service").startsWith("http/1.1 200 ok\r\n")
          .contains("\r\ntransfer-encoding: chunked\r\n").contains("greeter-0")
          .containsPattern("\r\n0\r\n(.*\r\n)*grpc-status: 0\r\n");
    }
    assertThat(greeter.calls).hasValue(2);
  }

  @Test
  void theDestinationSeesTheCallersIdentityAndEnforcesAuthorization() throws Exception {
    try (MeshHttpClient c = client(CLIENT, PRIVATE_VIP)) {
      assertThat(c.get("/doc").status()).isEqualTo(200);
      MeshHttpClient.Response post = c.send("POST", "/doc", "x");
      assertThat(post.status()).isEqualTo(403);
      assertThat(post.header("x-trellis-response-flags")).isEqualTo("RBAC");
    }
    assertThat(node2.inbound().recent()).anySatisfy(e -> {
      assertThat(e.peer()).hasToString("spiffe://cluster.local/ns/demo/sa/client");
      assertThat(e.workload()).isEqualTo("demo/private-0");
      assertThat(e.status()).isEqualTo(200);
    });
    int before = served.get("private-0").get();
    try (MeshHttpClient c = client(INTRUDER, PRIVATE_VIP)) {
      MeshHttpClient.Response r = c.get("/doc");
      assertThat(r.status()).isEqualTo(403);
      assertThat(r.body()).contains("the destination denied this workload");
    }
    assertThat(served.get("private-0").get()).isEqualTo(before);
    assertThat(node2.inbound().recent()).anySatisfy(e -> {
      assertThat(e.peer()).hasToString("spiffe://cluster.local/ns/other/sa/intruder");
      assertThat(e.status()).isEqualTo(401);
    });
    assertThat(admin(node2, "/metrics")).contains("trellis_proxy_inbound_requests_total{status=\"401\"}");
  }

  @Test
  void strictRefusesPlaintextWhilePermissiveAcceptsIt() throws Exception {
    InetSocketAddress inbound = new InetSocketAddress("127.0.92.1", node2.inboundPort());
    int before = served.get("secure-0").get();
    assertThatThrownBy(() -> MeshHttpClient.socks(inbound, "127.0.92.99", "127.0.92.60", BACKEND_PORT).close())
        .hasMessage("SOCKS reply 2");
    assertThat(node2.inbound().recent().getLast().reason()).contains("STRICT");
    assertThat(served.get("secure-0").get()).isEqualTo(before);
    try (MeshHttpClient plain = MeshHttpClient.connect(inbound, "127.0.92.99", "127.0.92.11", BACKEND_PORT)) {
      assertThat(plain.get("/plain").body()).isEqualTo("web-v2-0");
    }
    try (MeshHttpClient mtls = client(CLIENT, SECURE_VIP)) {
      assertThat(mtls.get("/mtls").body()).isEqualTo("secure-0");
    }
  }

  @Test
  void configChangesUnderLoadFailNoRequestAndInFlightRequestsFinish() throws Exception {
    AtomicBoolean stop = new AtomicBoolean();
    AtomicLong ok = new AtomicLong();
    List<String> failures = java.util.Collections.synchronizedList(new ArrayList<>());
    Map<String, AtomicLong> byBackend = new ConcurrentHashMap<>();
    List<Future<?>> loaders = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      loaders.add(threads.submit(() -> {
        try (MeshHttpClient c = client(CLIENT, WEB_VIP)) {
          while (!stop.get()) {
            MeshHttpClient.Response r = c.get("/load");
            if (r.status() != 200) {
              failures.add(r.status() + " " + r.body());
            } else {
              ok.incrementAndGet();
              byBackend.computeIfAbsent(r.body(), k -> new AtomicLong()).incrementAndGet();
            }
          }
        } catch (IOException e) {
          failures.add(e.toString());
        }
        return null;
      }));
    }
    release = new CountDownLatch(1);
    MeshHttpClient holder = client(CLIENT, WEB_VIP);
    try {
      // One request held open at a v1 endpoint while v1 is removed from the mesh entirely.
      rewriteMesh(meshFile("[{service: web-v1, weight: 1}]", WEB_V1_SERVICE));
      await().atMost(Duration.ofSeconds(10)).until(() -> weightOf(node1, "web-v2") == 0);
      Future<MeshHttpClient.Response> inFlight = threads.submit(() -> holder.get("/hold"));
      await().atMost(Duration.ofSeconds(10)).until(() -> held.get() == 1);

      rewriteMesh(meshFile("[{service: web-v2, weight: 1}]", ""));
      await().atMost(Duration.ofSeconds(10)).until(() -> node1.config().clusters().keySet().stream()
          .noneMatch(name -> name.contains("web-v1.demo")));
      long v2Before = byBackend.getOrDefault("web-v2-0", new AtomicLong()).get();
      await().atMost(Duration.ofSeconds(10)).until(() -> byBackend.get("web-v2-0") != null
          && byBackend.get("web-v2-0").get() > v2Before + 100);
      release.countDown();
      MeshHttpClient.Response r = inFlight.get(10, TimeUnit.SECONDS);
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.body()).isEqualTo("web-v1-0");

      rewriteMesh(meshFile(WEB_80_20, WEB_V1_SERVICE));
      await().atMost(Duration.ofSeconds(10)).until(() -> weightOf(node1, "web-v2") > 0);
      long v1Before = byBackend.getOrDefault("web-v1-0", new AtomicLong()).get();
      await().atMost(Duration.ofSeconds(10)).until(() -> byBackend.get("web-v1-0").get() > v1Before + 100);
    } finally {
      release.countDown();
      stop.set(true);
      holder.close();
    }
    for (Future<?> f : loaders) {
      f.get(10, TimeUnit.SECONDS);
    }
    assertThat(failures).as("requests that failed while the config changed three times").isEmpty();
    assertThat(ok.get()).isGreaterThan(300);
  }

  /** The weight node 1 gives the named backend service in the web route; 0 when it is not in the route. */
  static int weightOf(NodeProxy node, String service) {
    return node.config().routes().values().stream().filter(rc -> rc.name().startsWith("web.demo.svc."))
        .flatMap(rc -> rc.virtualHosts().stream()).flatMap(vh -> vh.rules().stream())
        .flatMap(r -> r.action().clusters().stream())
        .filter(w -> w.cluster().contains("|" + service + ".demo."))
        .mapToInt(RouteTable.WeightedCluster::weight).sum();
  }

  @Test
  void oneGibibyteStreamsThroughTheTunnelByteExactWithFlatMemory() throws Exception {
    long total = 1L << 30;
    byte[] block = new byte[256 * 1024];
    new Random(42).nextBytes(block);
    System.gc();
    long heapBefore = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    AtomicLong directPeak = new AtomicLong();
    AtomicBoolean sampling = new AtomicBoolean(true);
    Future<?> sampler = threads.submit(() -> {
      while (sampling.get()) {
        directPeak.accumulateAndGet(directMemory(), Math::max);
        Thread.sleep(20); // a sampling period, not a wait for a condition
      }
      return null;
    });
    long started = System.nanoTime();
    try (Socket s = MeshHttpClient.socks(new InetSocketAddress("127.0.91.1", node1.entryPort()), CLIENT, BULK_VIP, 9000)) {
      s.setSoTimeout(60_000);
      Future<byte[]> back = threads.submit(() -> {
        MessageDigest d = MessageDigest.getInstance("SHA-256");
        byte[] buf = new byte[256 * 1024];
        InputStream in = s.getInputStream();
        long n = 0;
        for (int r = in.read(buf); r >= 0; r = in.read(buf)) {
          d.update(buf, 0, r);
          n += r;
        }
        assertThat(n).isEqualTo(total);
        return d.digest();
      });
      MessageDigest sent = MessageDigest.getInstance("SHA-256");
      OutputStream out = s.getOutputStream();
      for (long i = 0; i < total / block.length; i++) {
        for (int b = 0; b < 8; b++) {
          block[b] = (byte) (i >>> (8 * b)); // every block differs: reordering or repeats change the digest
        }
        sent.update(block);
        out.write(block);
      }
      s.shutdownOutput();
      assertThat(back.get(120, TimeUnit.SECONDS)).isEqualTo(sent.digest());
    } finally {
      sampling.set(false);
      sampler.get();
    }
    double seconds = (System.nanoTime() - started) / 1e9;
    System.gc();
    long heapAfter = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    System.out.printf("1 GiB echoed through two node proxies (paranoid leak detection on) in %.1f s (%.0f MB/s each way);"
        + " Netty direct memory peak"
        + " %d MiB; heap after GC %d -> %d MiB%n", seconds, total / seconds / 1e6, directPeak.get() >> 20,
        heapBefore >> 20, heapAfter >> 20);
    assertThat(directPeak.get()).as("Netty direct memory while 1 GiB streams").isLessThan(128L << 20);
    assertThat(heapAfter - heapBefore).as("heap growth after 1 GiB").isLessThan(32L << 20);
  }

  static long directMemory() {
    return ByteBufAllocator.DEFAULT instanceof ByteBufAllocatorMetricProvider p ? p.metric().usedDirectMemory() : -1;
  }
}
