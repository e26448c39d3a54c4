package dev.trellis.proxy.http;

import dev.trellis.proxy.cluster.Clusters;
import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.proxy.state.ProxyConfig;
import dev.trellis.telemetry.Telemetry;
import io.netty.handler.codec.http.HttpRequest;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * What every request of one downstream connection shares: who calls (the source workload and its
 * address), which route configuration the destination chose, the protocol spoken, and the proxy's
 * shared state. Each request reads the config current when it starts, so a route change applies to the
 * next request on a kept-alive connection while requests in flight finish as they began.
 *
 * @param protocol the protocol the downstream speaks (each attempt's upstream protocol comes from its cluster,
 *     {@code ClusterSpec.upstream})
 * @param ticker nanoseconds for outlier detection and deadlines (System::nanoTime outside tests)
 * @param gate checked for every request before routing, or null
 * @param inbound whether this is a destination's inspected connection ({@code source} is then the local callee and
 *     {@code sourceAddress} the caller's SPIFFE ID, "" for plaintext)
 * @param telemetry spans, metrics and the access log of each request
 * @param clientCert inbound: the {@code x-forwarded-client-cert} every request gets ({@code By=<callee>;URI=<caller>}),
 *     or null for a plaintext caller (the header is then only removed); null outbound
 */
public record HttpContext(Supplier<ProxyConfig> config, Clusters clusters, UpstreamPool pool, String routeConfig,
    LocalWorkload source, String sourceAddress, UpstreamPool.Protocol protocol, LongSupplier ticker, HttpLimits limits,
    RequestGate gate, boolean inbound, Telemetry telemetry, String clientCert) {

  /** A check every request passes before it is routed (inbound authorization); null: none. */
  @FunctionalInterface
  public interface RequestGate {
    /** Null to let the request through, else the reply that refuses it. */
    LocalReply check(HttpRequest request);
  }

  HttpContext withProtocol(UpstreamPool.Protocol p) {
    if (p == protocol) {
      return this;
    }
    return new HttpContext(config, clusters, pool, routeConfig, source, sourceAddress, p, ticker, limits, gate, inbound,
        telemetry, clientCert);
  }
}
