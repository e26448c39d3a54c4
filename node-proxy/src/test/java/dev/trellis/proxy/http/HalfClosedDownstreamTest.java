package dev.trellis.proxy.http;

import static dev.trellis.proxy.testing.ProxyFixture.cluster;
import static dev.trellis.proxy.testing.ProxyFixture.mesh;
import static dev.trellis.proxy.testing.ProxyFixture.respond;
import static dev.trellis.proxy.testing.ProxyFixture.rule;
import static dev.trellis.proxy.testing.ProxyFixture.to;
import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.proxy.state.ClusterSpec.UpstreamProtocol;
import dev.trellis.proxy.testing.ProxyFixture;
import dev.trellis.proxy.testing.RawHttp;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A client that half-closes before a request could begin gets its connection closed at once, not after the idle
 * timeout (an hour here, longer than the client's 20 s read timeout, so waiting for it fails the test). One that
 * half-closes after a whole request still gets its response: {@code HttpHostileInputTest} for HTTP/1.1, here for
 * HTTP/2 (prior knowledge), whose connections stayed in CLOSE-WAIT until the idle timeout.
 */
class HalfClosedDownstreamTest {

  private final ProxyFixture fx = new ProxyFixture(new HttpLimits(Duration.ofSeconds(5), Duration.ofHours(1)));

  @BeforeEach
  void start() throws Exception {
    InetSocketAddress web = fx.backend("127.0.73.10", ex -> respond(ex, 200, "ok " + ex.getRequestURI()));
    fx.http(List.of(rule("all", "/", to("web"))), Map.of(cluster("web", UpstreamProtocol.HTTP1), List.of(mesh(web))));
  }

  @AfterEach
  void close() {
    fx.close();
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "PRI * HTTP/2.0\r\n"})
  void aClientThatHalfClosesBeforeARequestIsClosedAtOnce(String sent) throws Exception {
    try (RawHttp c = fx.client()) {
      c.send(sent).shutdownOutput();
      assertThat(c.closed()).as("closed by the proxy after %d bytes and a half-close", sent.length()).isTrue();
    }
  }

  @Test
  void anHttp2ClientThatHalfClosesWithNoStreamOpenIsClosedAtOnce() throws Exception {
    try (RawHttp c = fx.client()) {
      c.send(H2_PREFACE_AND_SETTINGS).shutdownOutput();
      List<Frame> frames = Frame.parse(c.readToEnd()); // a read timeout (20 s) if the proxy keeps the connection
      assertThat(frames).extracting(Frame::type).contains(SETTINGS);
    }
  }

  @Test
  void anHttp2ClientThatHalfClosesAfterItsRequestGetsTheResponseThenTheConnectionCloses() throws Exception {
    try (RawHttp c = fx.client()) {
      c.send(H2_PREFACE_AND_SETTINGS).send(getOnStream1()).shutdownOutput();
      List<Frame> frames = Frame.parse(c.readToEnd());
      String body = frames.stream().filter(f -> f.type() == DATA && f.stream() == 1)
          .map(f -> new String(f.payload(), StandardCharsets.US_ASCII)).collect(Collectors.joining());
      assertThat(body).isEqualTo("ok /");
      assertThat(frames).anySatisfy(f -> {
        assertThat(f.stream()).isEqualTo(1);
        assertThat(f.flags() & END_STREAM).isEqualTo(END_STREAM);
      });
    }
  }

  private static final int DATA = 0;
  private static final int HEADERS = 1;
  private static final int SETTINGS = 4;
  private static final int END_STREAM = 1;
  private static final byte[] H2_PREFACE_AND_SETTINGS = concat("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
      .getBytes(StandardCharsets.US_ASCII), frame(SETTINGS, 0, 0, new byte[0]));

  /** GET / on stream 1, END_STREAM: HPACK static-table fields and a literal :authority. */
  private static byte[] getOnStream1() {
    byte[] authority = "web.d.svc.cluster.local".getBytes(StandardCharsets.US_ASCII);
    byte[] block = concat(new byte[] {(byte) 0x82, (byte) 0x86, (byte) 0x84, 0x41, (byte) authority.length}, authority);
    return frame(HEADERS, END_STREAM | 0x4, 1, block);
  }

  private static byte[] frame(int type, int flags, int stream, byte[] payload) {
    ByteBuffer b = ByteBuffer.allocate(9 + payload.length);
    b.put((byte) (payload.length >>> 16)).put((byte) (payload.length >>> 8)).put((byte) payload.length);
    b.put((byte) type).put((byte) flags).putInt(stream).put(payload);
    return b.array();
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] r = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, r, a.length, b.length);
    return r;
  }

  private record Frame(int type, int flags, int stream, byte[] payload) {
    static List<Frame> parse(byte[] bytes) {
      List<Frame> frames = new ArrayList<>();
      ByteBuffer b = ByteBuffer.wrap(bytes);
      while (b.remaining() >= 9) {
        int length = ((b.get() & 0xff) << 16) | ((b.get() & 0xff) << 8) | (b.get() & 0xff);
        int type = b.get() & 0xff;
        int flags = b.get() & 0xff;
        int stream = b.getInt() & 0x7fffffff;
        byte[] payload = new byte[Math.min(length, b.remaining())];
        b.get(payload);
        frames.add(new Frame(type, flags, stream, payload));
      }
      return frames;
    }
  }
}
