package dev.trellis.proxy.http;

import static dev.trellis.proxy.testing.ProxyFixture.cluster;
import static dev.trellis.proxy.testing.ProxyFixture.mesh;
import static dev.trellis.proxy.testing.ProxyFixture.respond;
import static dev.trellis.proxy.testing.ProxyFixture.rule;
import static dev.trellis.proxy.testing.ProxyFixture.to;
import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.proxy.testing.ProxyFixture;
import dev.trellis.proxy.testing.RawHttp;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A client that half-closes before a request could begin gets its connection closed at once, not after the idle
 * timeout (an hour here, longer than the client's 20 s read timeout, so waiting for it fails the test). One that
 * half-closes after a whole request still gets its response: {@code HttpHostileInputTest}.
 */
class HalfClosedDownstreamTest {

  private final ProxyFixture fx = new ProxyFixture(new HttpLimits(Duration.ofSeconds(5), Duration.ofHours(1)));

  @BeforeEach
  void start() throws Exception {
    InetSocketAddress web = fx.backend("127.0.73.10", ex -> respond(ex, 200, "ok " + ex.getRequestURI()));
    fx.http(List.of(rule("all", "/", to("web"))), Map.of(cluster("web"), List.of(mesh(web))));
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
}
