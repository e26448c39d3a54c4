package dev.trellis.proxy.outbound;

import dev.trellis.proxy.state.LocalWorkload;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;
import java.util.random.RandomGenerator;

/**
 * The request headers an outbound HBONE CONNECT carries besides {@code :authority} (the shared HBONE
 * design names them): {@code forwarded: for="<source ip>"}, a W3C {@code traceparent} naming the
 * tunnel (a new trace, not sampled, until tracing joins it to the request's trace) and a W3C
 * {@code baggage} describing the source workload.
 */
final class TunnelHeaders {

  private TunnelHeaders() {}

  static Http2Headers of(LocalWorkload source) {
    return of(source, ThreadLocalRandom.current());
  }

  static Http2Headers of(LocalWorkload source, RandomGenerator random) {
    DefaultHttp2Headers h = new DefaultHttp2Headers();
    if (!source.addresses().isEmpty()) {
      h.add("forwarded", "for=\"" + source.addresses().getFirst() + "\"");
    }
    h.add("traceparent", traceparent(random));
    String pod = source.name().substring(source.name().indexOf('/') + 1);
    h.add("baggage", "k8s.namespace.name=" + encode(source.namespace()) + ",k8s.pod.name=" + encode(pod));
    return h;
  }

  /** {@code 00-<32 hex trace id>-<16 hex span id>-00}; ids are never all zero (W3C trace-context). */
  static String traceparent(RandomGenerator random) {
    long hi = random.nextLong();
    long lo = random.nextLong() | 1;
    long span = random.nextLong() | 1;
    HexFormat hex = HexFormat.of();
    return "00-" + hex.toHexDigits(hi) + hex.toHexDigits(lo) + "-" + hex.toHexDigits(span) + "-00";
  }

  private static String encode(String v) {
    return URLEncoder.encode(v, StandardCharsets.UTF_8).replace("+", "%20");
  }
}
