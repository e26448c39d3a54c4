package dev.trellis.proxy.entry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.trellis.proxy.refusal.Refusal;
import dev.trellis.proxy.refusal.Refusals;
import dev.trellis.proxy.testing.LeakRecorder;
import dev.trellis.proxy.testing.LogCapture;
import dev.trellis.proxy.transport.Transport;
import io.netty.channel.EventLoopGroup;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What the local-mode entry (SOCKS5 / HTTP CONNECT) refuses costs a counter and at most one log line per reason
 * per window, and a request that does not parse never reaches the dispatcher (Netty's SOCKS5 decoders hand on a
 * placeholder {@code CONNECT 0.0.0.0:1} marked failed).
 */
class EntryRefusalsTest {

  static final int ATTEMPTS = 100;

  private final EventLoopGroup group = Transport.newGroup(1, "trellis-proxy");
  private final AtomicLong ticker = new AtomicLong();
  private final Refusals refusals = new Refusals(ticker::get);
  private final AtomicInteger dispatched = new AtomicInteger();
  private final EntryServer entry = EntryServer.start(group, new InetSocketAddress("127.0.0.1", 0),
      (downstream, source, destination, name, port, reply) -> {
        dispatched.incrementAndGet();
        reply.reject(EntryDispatcher.Refusal.FORBIDDEN);
      }, refusals, Refusal.Listener.OUTBOUND);

  @AfterEach
  void stop() {
    entry.close();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    LeakRecorder.assertNoLeaks();
  }

  @Test
  void malformedAndUnsupportedRequestsAreCountedLoggedOncePerReasonAndNeverDispatched() throws Exception {
    try (LogCapture logs = LogCapture.start()) {
      attempts(Refusal.MALFORMED, bytes(5, 0)); // a SOCKS5 greeting offering no method
      attempts(Refusal.MALFORMED, bytes(5, 1, 0, /* request */ 5, 1, 0, 9, 1, 2, 3, 4, 0, 80)); // address type 9
      attempts(Refusal.MALFORMED, "CONNECT web.d.svc HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII)); // no port
      attempts(Refusal.MALFORMED, "\u0001\u0002GARBAGE\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      attempts(Refusal.UNSUPPORTED, bytes(5, 1, 2)); // username/password only
      attempts(Refusal.UNSUPPORTED, bytes(5, 1, 0, /* BIND */ 5, 2, 0, 1, 10, 96, 0, 10, 0, 80));
      attempts(Refusal.UNSUPPORTED, "GET / HTTP/1.1\r\nHost: web\r\n\r\n".getBytes(StandardCharsets.US_ASCII));

      assertThat(dispatched).as("nothing malformed or unsupported reaches the dispatcher").hasValue(0);
      assertThat(refusals.count(Refusal.Listener.OUTBOUND, Refusal.MALFORMED)).isEqualTo(4 * ATTEMPTS);
      assertThat(refusals.count(Refusal.Listener.OUTBOUND, Refusal.UNSUPPORTED)).isEqualTo(3 * ATTEMPTS);
      List<String> lines = logs.lines();
      assertThat(lines).hasSize(2);
      assertThat(lines).filteredOn(l -> l.contains("[outbound] refused /127.0.0.1:") && l.contains(": malformed: "))
          .hasSize(1);
      assertThat(lines).filteredOn(l -> l.contains("[outbound] refused /127.0.0.1:") && l.contains(": unsupported: "))
          .hasSize(1);
    }
  }

  @Test
  void aWellFormedRequestStillReachesTheDispatcher() throws Exception {
    byte[] answer = exchange(bytes(5, 1, 0, 5, 1, 0, 1, 10, 96, 0, 10, 0, 80));
    await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(dispatched).hasValue(1));
    assertThat(answer).startsWith(5, 0, 5, 2); // NO_AUTH chosen, then FORBIDDEN (the dispatcher's answer)
    assertThat(refusals.counts()).isEmpty();
  }

  private void attempts(Refusal reason, byte[] request) throws IOException {
    long before = refusals.count(Refusal.Listener.OUTBOUND, reason);
    for (int i = 0; i < ATTEMPTS; i++) {
      exchange(request);
    }
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
        assertThat(refusals.count(Refusal.Listener.OUTBOUND, reason) - before).isEqualTo(ATTEMPTS));
  }

  /** Sends the bytes and returns what came back until the entry closed the connection. */
  private byte[] exchange(byte[] request) throws IOException {
    try (Socket s = new Socket()) {
      s.connect(entry.address(), 2000);
      s.setSoTimeout(5000);
      s.getOutputStream().write(request);
      s.getOutputStream().flush();
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      InputStream in = s.getInputStream();
      try {
        for (int b; (b = in.read()) >= 0; ) {
          got.write(b);
        }
      } catch (IOException reset) {
        // closed all the same
      }
      return got.toByteArray();
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
