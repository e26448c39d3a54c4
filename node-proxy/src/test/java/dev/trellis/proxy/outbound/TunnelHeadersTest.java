package dev.trellis.proxy.outbound;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.proxy.state.LocalWorkload;
import io.netty.handler.codec.http2.Http2Headers;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class TunnelHeadersTest {

  static final LocalWorkload SOURCE = new LocalWorkload("demo/web-0", "demo",
      SpiffeId.parse("spiffe://cluster.local/ns/demo/sa/web"), List.of("10.1.0.7"), true, LocalWorkload.MtlsMode.STRICT,
      Map.of());

  @Test
  void aConnectNamesItsSourceAndStartsATrace() {
    Http2Headers h = TunnelHeaders.of(SOURCE, new SplittableRandom(1));
    assertThat(h.get("forwarded")).hasToString("for=\"10.1.0.7\"");
    assertThat(h.get("baggage")).hasToString("k8s.namespace.name=demo,k8s.pod.name=web-0");
    assertThat(h.get("traceparent").toString()).matches("00-[0-9a-f]{32}-[0-9a-f]{16}-00");
  }

  @Test
  void traceAndSpanIdsAreNeverAllZero() {
    java.util.random.RandomGenerator zeros = () -> 0L;
    assertThat(TunnelHeaders.traceparent(zeros))
        .isEqualTo("00-00000000000000000000000000000001-0000000000000001-00");
  }
}
