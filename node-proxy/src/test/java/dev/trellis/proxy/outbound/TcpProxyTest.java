package dev.trellis.proxy.outbound;

import static dev.trellis.proxy.testing.ProxyFixture.cluster;
import static dev.trellis.proxy.testing.ProxyFixture.mesh;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.proxy.resilience.CircuitBreaker;
import dev.trellis.proxy.state.AuthorizationSpec;
import dev.trellis.proxy.state.ClusterSpec;
import dev.trellis.proxy.state.EndpointSpec;
import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.proxy.testing.ProxyFixture;
import dev.trellis.proxy.testing.RawHttp;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** L4 services through the outbound proxy on loopback: HBONE relay, connect retries, connection limits. */
class TcpProxyTest {

  private final ProxyFixture fx = new ProxyFixture();
  private final ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();

  @AfterEach
  void close() {
    fx.close();
    pool.shutdownNow();
  }

  private InetSocketAddress echo(String address) throws IOException {
    return echo(fx, pool, address);
  }

  /** An echo workload on {@code address}; registered as a local workload through a throwaway HTTP backend slot. */
  static InetSocketAddress echo(ProxyFixture fx, java.util.concurrent.ExecutorService pool, String address)
      throws IOException {
    ServerSocket s = new ServerSocket(0, 50, InetAddress.getByName(address));
    fx.backend(address, ex -> ProxyFixture.respond(ex, 200, "unused")).getPort();
    pool.submit(() -> {
      while (!s.isClosed()) {
        Socket c = s.accept();
        pool.submit(() -> {
          try (c; InputStream in = c.getInputStream(); OutputStream out = c.getOutputStream()) {
            in.transferTo(out);
          }
          return null;
        });
      }
      return null;
    });
    return new InetSocketAddress(address, s.getLocalPort());
  }

  @Test
  void bytesReachTheClustersEndpointOverHbone() throws Exception {
    InetSocketAddress e = echo("127.0.73.30");
    fx.tcp(cluster("db"), List.of(mesh(e)));
    try (RawHttp c = fx.client()) {
      c.send("ping");
      assertThat(new String(c.readN(4), StandardCharsets.UTF_8)).isEqualTo("ping");
    }
    assertThat(fx.inbound.recent().getLast().peer()).isEqualTo(ProxyFixture.CLIENT);
  }

  @Test
  void aDestinationOutsideTheMeshIsRelayedThroughTheLocalEntryFromTheNode() throws Exception {
    fx.tcp(cluster("db"), List.of());
    try (ServerSocket outside = new ServerSocket(0, 5, InetAddress.getByName("127.0.74.9"))) {
      pool.submit(() -> {
        try (Socket c = outside.accept(); InputStream in = c.getInputStream(); OutputStream out = c.getOutputStream()) {
          out.write(("from " + c.getInetAddress().getHostAddress() + " ").getBytes(StandardCharsets.UTF_8));
          in.transferTo(out);
        }
        return null;
      });
      try (RawHttp c = RawHttp.socks(fx.entry.address(), "127.0.0.1", "127.0.74.9", outside.getLocalPort())) {
        c.send("ping");
        assertThat(new String(c.readN(19), StandardCharsets.UTF_8)).isEqualTo("from 127.0.0.1 ping");
      }
    }
  }

  @Test
  void aMeshWorkloadDialedByItsOwnAddressIsTunneledAsTheCallerNotPassedThroughInPlaintext() throws Exception {
    InetSocketAddress e = echo("127.0.73.31"); // a STRICT workload of this node, in no cluster
    fx.tcp(cluster("db"), List.of());
    try (RawHttp c = RawHttp.socks(fx.entry.address(), "127.0.0.1", "127.0.73.31", e.getPort())) {
      c.send("ping");
      assertThat(new String(c.readN(4), StandardCharsets.UTF_8)).isEqualTo("ping");
    }
    assertThat(fx.inbound.recent()).as("reached through the HBONE server, as the caller").last()
        .satisfies(r -> {
          assertThat(r.peer()).isEqualTo(ProxyFixture.CLIENT);
          assertThat(r.authority()).isEqualTo("127.0.73.31:" + e.getPort());
          assertThat(r.status()).isEqualTo(200);
        });
  }

  @Test
  void aMeshWorkloadDialedByItsAddressIsRefusedWhenItsPolicyDeniesTheCaller() throws Exception {
    InetSocketAddress e = echo("127.0.73.32");
    fx.policies("127.0.73.32", LocalWorkload.MtlsMode.STRICT, List.of(new AuthorizationSpec("only-web",
        AuthorizationSpec.Action.ALLOW, List.of(new AuthorizationSpec.Rule(Set.of(ProxyFixture.WEB.toString()),
            Set.of(), Set.of(), Set.of(), List.of())))), Map.of());
    fx.tcp(cluster("db"), List.of());
    assertThatThrownBy(() -> RawHttp.socks(fx.entry.address(), "127.0.0.1", "127.0.73.32", e.getPort()))
        .as("the destination's policy applies: SOCKS answers 'not allowed'")
        .hasMessageContaining("refused with status 2");
    assertThat(fx.inbound.recent()).last().satisfies(r -> {
      assertThat(r.peer()).isEqualTo(ProxyFixture.CLIENT);
      assertThat(r.status()).isEqualTo(401);
    });
  }

  @Test
  void aRefusedOutboundConnectionIsCountedByReason() throws Exception {
    fx.tcp(cluster("db"), List.of());
    for (int i = 0; i < 3; i++) {
      assertThatThrownBy(() -> RawHttp.socks(fx.entry.address(), "127.0.0.9", ProxyFixture.VIP, 80))
          .as("a source that is no workload of this node").hasMessageContaining("refused with status 2");
    }
    assertThat(fx.refusals.count(dev.trellis.proxy.refusal.Refusal.Listener.OUTBOUND,
        dev.trellis.proxy.refusal.Refusal.UNKNOWN_SOURCE)).isEqualTo(3);
  }

  @Test
  void aHalfClosedConnectionGetsEveryByteBackBeforeItsEnd() throws Exception {
    InetSocketAddress e = echo("127.0.73.30");
    fx.tcp(cluster("db"), List.of(mesh(e)));
    byte[] payload = new byte[4 * 1024 * 1024];
    new java.util.Random(7).nextBytes(payload);
    for (int round = 0; round < 3; round++) {
      try (RawHttp c = fx.client()) {
        java.util.concurrent.CompletableFuture<byte[]> back = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
          try {
            return c.readToEnd();
          } catch (IOException x) {
            throw new java.io.UncheckedIOException(x);
          }
        }, pool);
        c.send(payload).shutdownOutput(); // the client is done sending; the echo is still on its way back
        assertThat(back.get(30, java.util.concurrent.TimeUnit.SECONDS)).as("round %d", round).isEqualTo(payload);
      }
    }
  }

  @Test
  void aFailedConnectIsTriedOnAnotherEndpoint() throws Exception {
    InetSocketAddress e = echo("127.0.73.30");
    int closed;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.73.31"))) {
      closed = s.getLocalPort();
    }
    EndpointSpec dead = new EndpointSpec("127.0.73.31", closed, null, null, null, false, "d/dead", null, 1);
    fx.tcp(cluster("db"), List.of(dead, mesh(e)));
    for (int i = 0; i < 4; i++) {
      try (RawHttp c = fx.client()) {
        c.send("x" + i);
        assertThat(new String(c.readN(2), StandardCharsets.UTF_8)).isEqualTo("x" + i);
      }
    }
    assertThat(fx.clusters.find("db").stats().connectFailures.get()).isGreaterThanOrEqualTo(1);
  }

  @Test
  void maxConnectionsRefusesTheNextConnection() throws Exception {
    InetSocketAddress e = echo("127.0.73.30");
    fx.tcp(new ClusterSpec("db", ClusterSpec.LbAlgorithm.ROUND_ROBIN, Duration.ofSeconds(2),
        new ClusterSpec.Breaker(1, 1024, 1024, 3, -1, 3), null), List.of(mesh(e)));
    try (RawHttp first = fx.client()) {
      first.send("a");
      assertThat(first.readN(1)).isEqualTo("a".getBytes());
      assertThatThrownBy(fx::client).hasMessageContaining("SOCKS CONNECT refused with status 1");
    }
    assertThat(fx.clusters.find("db").breaker().overflows(CircuitBreaker.Resource.CONNECTIONS)).isEqualTo(1);
  }
}
