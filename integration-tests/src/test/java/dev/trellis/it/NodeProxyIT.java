package dev.trellis.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.trellis.controlplane.server.ControlPlane;
import dev.trellis.controlplane.server.ControlPlaneOptions;
import dev.trellis.proxy.NodeProxy;
import dev.trellis.proxy.NodeProxyOptions;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Two node proxies and the control plane on loopback: a client workload on node 1 reaches an echo
 * workload on node 2 through its node's entry, HBONE (mTLS as the client's own identity) and the
 * destination node proxy. Node addresses are 127.0.81.1 and 127.0.82.1, each proxy's HBONE server on
 * the standard port 15008 of its own address.
 */
class NodeProxyIT {

  static ControlPlane cp;
  static NodeProxy node1;
  static NodeProxy node2;
  static ServerSocket echo;
  static ServerSocket outside;
  static final ExecutorService servers = Executors.newCachedThreadPool();

  @BeforeAll
  static void start() throws Exception {
    echo = new ServerSocket(0, 50, InetAddress.getByName("127.0.82.10"));
    outside = new ServerSocket(0, 50, InetAddress.getByName("127.0.81.50"));
    servers.submit(() -> serve(echo));
    servers.submit(() -> serve(outside));
    Path dir = Files.createTempDirectory("trellis-node-it");
    Path mesh = dir.resolve("mesh.yaml");
    Files.writeString(mesh, """
        nodes:
          - {name: node-1, address: 127.0.81.1, token: it-proxy-node-1-token-0123}
          - {name: node-2, address: 127.0.82.1, token: it-proxy-node-2-token-0123}
        workloads:
          - {name: client-0, namespace: demo, serviceAccount: client, node: node-1, address: 127.0.81.10, labels: {app: client}}
          - {name: echo-0, namespace: demo, serviceAccount: echo, node: node-2, address: 127.0.82.10, labels: {app: echo}}
        services:
          - {name: echo, namespace: demo, vip: 10.96.81.1, selector: {app: echo}, ports: [{name: tcp, port: 7000, targetPort: %d}]}
        """.formatted(echo.getLocalPort()));
    cp = new ControlPlane(ControlPlaneOptions.local(mesh, dir.resolve("state")).withPorts(0, 0, 0), Clock.systemUTC()).start();
    String xds = "127.0.0.1:" + cp.xdsPort();
    node1 = new NodeProxy(NodeProxyOptions.local("node-1", "127.0.81.1", xds, "it-proxy-node-1-token-0123")
        .withPorts(0, 15008, 0), Clock.systemUTC()).start();
    node2 = new NodeProxy(NodeProxyOptions.local("node-2", "127.0.82.1", xds, "it-proxy-node-2-token-0123")
        .withPorts(0, 15008, 0), Clock.systemUTC()).start();
    await().atMost(Duration.ofSeconds(20)).until(() -> node1.ready() && node2.ready());
  }

  @AfterAll
  static void stop() throws Exception {
    for (AutoCloseable c : new AutoCloseable[] {node1, node2, cp, echo, outside}) {
      if (c != null) {
        c.close();
      }
    }
    servers.shutdownNow();
  }

  /** Echoes every connection byte for byte until the client closes its side. */
  private static void serve(ServerSocket server) {
    while (!server.isClosed()) {
      try {
        Socket s = server.accept();
        servers.submit(() -> {
          try (s; InputStream in = s.getInputStream(); OutputStream out = s.getOutputStream()) {
            in.transferTo(out);
          }
          return null;
        });
      } catch (IOException e) {
        return;
      }
    }
  }

  /** A SOCKS5 CONNECT from {@code source} through node 1's entry; returns the connected socket or the reply code. */
  private static Socket socks(String source, byte[] address, int port) throws IOException {
    return MeshHttpClient.socks(new InetSocketAddress("127.0.81.1", node1.entryPort()), source,
        InetAddress.getByAddress(address).getHostAddress(), port);
  }

  private static String sha256(byte[] data) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
  }

  @Test
  void aClientWorkloadReachesAServiceOnAnotherNodeOverHbone() throws Exception {
    byte[] payload = new byte[4 * 1024 * 1024];
    new Random(7).nextBytes(payload);
    try (Socket s = socks("127.0.81.10", new byte[] {10, 96, 81, 1}, 7000)) {
      CompletableFuture<byte[]> back = CompletableFuture.supplyAsync(() -> {
        try {
          return s.getInputStream().readNBytes(payload.length);
        } catch (IOException e) {
          throw new RuntimeException(e);
        }
      });
      s.getOutputStream().write(payload);
      s.shutdownOutput();
      assertThat(sha256(back.get(30, TimeUnit.SECONDS))).isEqualTo(sha256(payload));
    }
    assertThat(node2.inbound().recent()).anySatisfy(e -> {
      assertThat(e.peer().toString()).isEqualTo("spiffe://cluster.local/ns/demo/sa/client");
      assertThat(e.workload()).isEqualTo("demo/echo-0");
      assertThat(e.status()).isEqualTo(200);
      assertThat(e.peerAddress()).as("the HBONE connection's own peer").startsWith("127.");
      assertThat(e.claimed()).as("what the source's CONNECT claimed, recorded as such")
          .containsEntry("forwarded", "for=\"127.0.81.10\"")
          .containsEntry("baggage", "k8s.namespace.name=demo,k8s.pod.name=client-0");
      assertThat(e.claimed().get("traceparent")).matches("00-[0-9a-f]{32}-[0-9a-f]{16}-00");
    });
  }

  @Test
  void aDestinationOutsideTheMeshIsReachedDirectly() throws Exception {
    try (Socket s = socks("127.0.81.10", new byte[] {127, 0, 81, 50}, outside.getLocalPort())) {
      s.getOutputStream().write("plain".getBytes());
      assertThat(new String(s.getInputStream().readNBytes(5))).isEqualTo("plain");
    }
  }

  @Test
  void aSourceThatIsNoWorkloadOfTheNodeIsRefused() throws Exception {
    try {
      socks("127.0.81.99", new byte[] {10, 96, 81, 1}, 7000).close();
      throw new AssertionError("expected a refusal");
    } catch (IOException e) {
      assertThat(e).hasMessage("SOCKS reply 2"); // connection not allowed by ruleset
    }
  }
}
