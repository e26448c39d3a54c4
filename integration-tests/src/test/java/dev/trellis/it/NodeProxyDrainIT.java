package dev.trellis.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpServer;
import dev.trellis.controlplane.server.ControlPlane;
import dev.trellis.controlplane.server.ControlPlaneOptions;
import dev.trellis.proxy.NodeProxy;
import dev.trellis.proxy.NodeProxyOptions;
import dev.trellis.proxy.drain.ConnectionDrain;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A ready node proxy with a slow request in flight through it (client on node 1, HTTP service on node 2, over HBONE)
 * is drained, as SIGTERM drains it: readiness turns false at once, its entry refuses new connections, the request
 * completes with {@code Connection: close}, and the drain ends as soon as nothing is left, long before its timeout.
 */
class NodeProxyDrainIT {

  private final CountDownLatch arrived = new CountDownLatch(1);
  private final CountDownLatch release = new CountDownLatch(1);
  private final HttpClient http = HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY).build();
  private HttpServer backend;
  private ControlPlane cp;
  private NodeProxy node1;
  private NodeProxy node2;

  @AfterEach
  void stop() throws Exception {
    release.countDown();
    for (AutoCloseable c : new AutoCloseable[] {node1, node2, cp}) {
      if (c != null) {
        c.close();
      }
    }
    if (backend != null) {
      backend.stop(0);
    }
  }

  private HttpResponse<String> health(NodeProxy proxy) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.83.1:" + proxy.adminPort() + "/healthz/ready"))
        .build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void aDrainedProxyTurnsUnreadyRefusesNewConnectionsAndLetsTheRequestInFlightComplete() throws Exception {
    backend = HttpServer.create(new InetSocketAddress("127.0.84.10", 0), 50);
    backend.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
    backend.createContext("/", ex -> {
      arrived.countDown();
      try {
        release.await(20, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      byte[] b = "slow but whole".getBytes(StandardCharsets.UTF_8);
      ex.sendResponseHeaders(200, b.length);
      ex.getResponseBody().write(b);
      ex.close();
    });
    backend.start();
    Path dir = Files.createTempDirectory("trellis-drain-it");
    Path mesh = dir.resolve("mesh.yaml");
    Files.writeString(mesh, """
        nodes:
          - {name: node-1, address: 127.0.83.1, token: it-drain-node-1-token-0123}
          - {name: node-2, address: 127.0.84.1, token: it-drain-node-2-token-0123}
        workloads:
          - {name: client-0, namespace: demo, serviceAccount: client, node: node-1, address: 127.0.83.10, labels: {app: client}}
          - {name: web-0, namespace: demo, serviceAccount: web, node: node-2, address: 127.0.84.10, labels: {app: web}}
        services:
          - {name: web, namespace: demo, vip: 10.96.83.1, selector: {app: web}, ports: [{name: http, port: 80, targetPort: %d}]}
        """.formatted(backend.getAddress().getPort()));
    cp = new ControlPlane(ControlPlaneOptions.local(mesh, dir.resolve("state")).withPorts(0, 0, 0), Clock.systemUTC())
        .start();
    String xds = "127.0.0.1:" + cp.xdsPort();
    node1 = new NodeProxy(NodeProxyOptions.local("node-1", "127.0.83.1", xds, "it-drain-node-1-token-0123")
        .withPorts(0, 15008, 0), Clock.systemUTC()).start();
    node2 = new NodeProxy(NodeProxyOptions.local("node-2", "127.0.84.1", xds, "it-drain-node-2-token-0123")
        .withPorts(0, 15008, 0), Clock.systemUTC()).start();
    await().atMost(Duration.ofSeconds(20)).until(() -> node1.ready() && node2.ready());
    assertThat(health(node1).statusCode()).isEqualTo(200);
    InetSocketAddress entry = new InetSocketAddress("127.0.83.1", node1.entryPort());

    try (Socket s = MeshHttpClient.socks(entry, "127.0.83.10", "10.96.83.1", 80)) {
      s.setSoTimeout(20_000);
      s.getOutputStream().write("GET /slow HTTP/1.1\r\nhost: web.demo.svc.cluster.local\r\n\r\n"
          .getBytes(StandardCharsets.US_ASCII));
      assertThat(arrived.await(10, TimeUnit.SECONDS)).as("the request reached the backend").isTrue();

      CompletableFuture<ConnectionDrain.Result> drained = node1.drain(Duration.ofSeconds(20));
      assertThat(node1.ready()).as("readiness turns false at once").isFalse();
      HttpResponse<String> unready = health(node1);
      assertThat(unready.statusCode()).as("the health port stays up and says so").isEqualTo(503);
      assertThat(unready.body()).contains("draining");
      assertThatThrownBy(() -> {
        try (Socket late = new Socket()) {
          late.connect(entry, 2000);
        }
      }).as("the entry no longer accepts").isInstanceOf(ConnectException.class);

      release.countDown();
      String response = new String(readAll(s.getInputStream()), StandardCharsets.ISO_8859_1);
      assertThat(response).startsWith("HTTP/1.1 200").containsIgnoringCase("connection: close")
          .endsWith("slow but whole");
      ConnectionDrain.Result r = drained.get(10, TimeUnit.SECONDS);
      assertThat(r.closedAtTimeout()).isZero();
      assertThat(r.took()).as("ends when nothing is left, not at the timeout").isLessThan(Duration.ofSeconds(15));
    }
  }

  /** Everything until the proxy closes the connection (it must, after a Connection: close response). */
  private static byte[] readAll(InputStream in) throws IOException {
    return in.readAllBytes();
  }
}
