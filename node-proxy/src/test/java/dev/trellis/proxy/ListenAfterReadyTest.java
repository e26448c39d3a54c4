package dev.trellis.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.trellis.telemetry.Telemetry;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/**
 * {@code --listen-after-ready}: a node proxy that is not ready (its control plane does not answer) keeps its entry
 * port closed until the wait runs out, then listens anyway. Without the flag it listens at once.
 */
class ListenAfterReadyTest {

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.64.2"))) {
      return s.getLocalPort();
    }
  }

  private static boolean listens(int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.64.2", port), 500);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  @Test
  void aProxyThatIsNotReadyOpensItsTrafficPortsOnlyWhenTheWaitRunsOut() throws Exception {
    int entry = freePort();
    NodeProxyOptions options = NodeProxyOptions.local("node-1", "127.0.64.2", "127.0.0.1:1", "listen-after-ready-test")
        .withPorts(entry, 0, 0).withInboundPort(0).withDebugAdminPort(0);
    NodeProxy proxy = new NodeProxy(options, Clock.systemUTC(), null, Telemetry.disabled())
        .listenAfterReady(Duration.ofSeconds(2));
    CompletableFuture<NodeProxy> started = CompletableFuture.supplyAsync(() -> {
      try {
        return proxy.start();
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    });
    try {
      await().during(Duration.ofMillis(1200)).atMost(Duration.ofMillis(1900)).until(() -> !listens(entry));
      assertThat(started).as("start() waits for readiness").isNotDone();
      await().atMost(Duration.ofSeconds(10)).until(started::isDone);
      assertThat(proxy.ready()).isFalse();
      assertThat(listens(entry)).as("listening anyway once the wait ran out").isTrue();
    } finally {
      started.join().close();
    }
  }

  @Test
  void aProxyNotStartedAsASuccessorRefusesAPortAnotherListenerAlreadySharesInsteadOfSplittingItsConnections()
      throws Exception {
    int entry = freePort();
    try (ServerSocketChannel running = ServerSocketChannel.open()) {
      // what a running node proxy's listener looks like: SO_REUSEPORT, so a successor may join it
      running.setOption(StandardSocketOptions.SO_REUSEPORT, true);
      running.bind(new InetSocketAddress("127.0.64.2", entry));
      NodeProxyOptions options = NodeProxyOptions.local("node-1", "127.0.64.2", "127.0.0.1:1", "taken-port-test")
          .withPorts(entry, 0, 0).withInboundPort(0).withDebugAdminPort(0);
      NodeProxy proxy = new NodeProxy(options, Clock.systemUTC(), null, Telemetry.disabled());
      // a failed start closes what it had opened
      assertThatThrownBy(proxy::start).isInstanceOf(IOException.class)
          .hasMessageContaining("port " + entry + " on 127.0.64.2 is already taken by another listener")
          .hasMessageContaining("--listen-after-ready");
      assertThat(listens(entry)).as("the running listener still serves its port").isTrue();
    }
  }
}
