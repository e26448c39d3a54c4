package dev.trellis.proxy.entry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.trellis.proxy.refusal.Refusal;
import dev.trellis.proxy.refusal.Refusals;
import dev.trellis.proxy.testing.LeakRecorder;
import dev.trellis.proxy.transport.Transport;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A client of the local-mode entry must finish its SOCKS5 or HTTP CONNECT handshake within the deadline: one that
 * sends nothing, part of a greeting, or a greeting without a request is closed and counted; a completed handshake
 * is never cut by it, however long the tunnel then idles. Several event loops, real sockets.
 */
class EntryDeadlineTest {

  static final Duration DEADLINE = Duration.ofMillis(300);

  private final EventLoopGroup group = Transport.newGroup(4, "trellis-proxy");
  private final AtomicLong ticker = new AtomicLong();
  private final Refusals refusals = new Refusals(ticker::get);
  private final AtomicInteger dispatched = new AtomicInteger();
  private final EntryServer entry = EntryServer.start(new ServerBootstrap(), group,
      new InetSocketAddress("127.0.0.1", 0), (downstream, source, destination, name, port, reply) -> {
        dispatched.incrementAndGet();
        reply.accept(); // a tunnel to nowhere: nothing more is written, it idles
      }, refusals, Refusal.Listener.OUTBOUND, DEADLINE);
  private final List<Socket> sockets = new ArrayList<>();

  @AfterEach
  void stop() throws IOException {
    for (Socket s : sockets) {
      s.close();
    }
    entry.close();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    LeakRecorder.assertNoLeaks();
  }

  @Test
  void clientsThatStallBeforeNamingTheirDestinationAreClosedAndCounted() throws Exception {
    List<Socket> stalled = List.of(
        open(new byte[0]), // nothing at all
        open(bytes(5)), // half a SOCKS5 greeting
        open(bytes(5, 1, 0)), // a greeting, then no request
        open(bytes(5, 1, 0, 5, 1, 0, 1, 10, 96)), // half a request
        open("CONNECT web.demo.svc:80 HTTP/1.1\r\nHost: w".getBytes(StandardCharsets.US_ASCII))); // half a head
    for (Socket s : stalled) {
      assertThat(readsToEnd(s, Duration.ofSeconds(10))).as("the entry closed the stalled connection").isTrue();
    }
    await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
        assertThat(refusals.count(Refusal.Listener.OUTBOUND, Refusal.HANDSHAKE_TIMEOUT)).isEqualTo(stalled.size()));
    assertThat(dispatched).hasValue(0);
  }

  @Test
  void aCompletedHandshakeIsNeverCutByTheDeadline() throws Exception {
    Socket socks = open(bytes(5, 1, 0, 5, 1, 0, 1, 10, 96, 0, 10, 0, 80));
    Socket connect = open("CONNECT 10.96.0.10:80 HTTP/1.1\r\nHost: 10.96.0.10:80\r\n\r\n"
        .getBytes(StandardCharsets.US_ASCII));
    await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(dispatched).hasValue(2));
    // For five deadlines both tunnels stay open: each read times out instead of seeing the end.
    await().during(DEADLINE.multipliedBy(5)).atMost(DEADLINE.multipliedBy(10)).until(() ->
        !readsToEnd(socks, Duration.ofMillis(20)) && !readsToEnd(connect, Duration.ofMillis(20)));
    assertThat(refusals.counts()).isEmpty();
  }

  private Socket open(byte[] first) throws IOException {
    Socket s = new Socket();
    sockets.add(s);
    s.connect(entry.address(), 2000);
    s.getOutputStream().write(first);
    s.getOutputStream().flush();
    return s;
  }

  /** True if the peer ended the connection within {@code wait} (what it sent before is skipped). */
  private static boolean readsToEnd(Socket s, Duration wait) throws IOException {
    s.setSoTimeout((int) wait.toMillis());
    InputStream in = s.getInputStream();
    try {
      while (in.read() >= 0) {
        // the handshake's answers
      }
      return true;
    } catch (SocketTimeoutException still) {
      return false;
    } catch (IOException reset) {
      return true;
    }
  }

  private static byte[] bytes(int... values) {
    byte[] b = new byte[values.length];
    for (int i = 0; i < values.length; i++) {
      b[i] = (byte) values[i];
    }
    return b;
  }
}
