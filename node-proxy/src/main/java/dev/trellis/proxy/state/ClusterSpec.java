package dev.trellis.proxy.state;

import java.time.Duration;

/**
 * An upstream cluster as the proxy runs it.
 *
 * @param breaker circuit-breaker limits (Envoy's defaults where xDS gave none)
 * @param outlier outlier detection, or null when disabled
 * @param upstream the protocol requests to its endpoints are sent in (CDS {@code HttpProtocolOptions}; the service
 *     port's declared protocol)
 */
public record ClusterSpec(String name, LbAlgorithm lb, Duration connectTimeout, Breaker breaker, Outlier outlier,
    UpstreamProtocol upstream) {

  public ClusterSpec {
    upstream = upstream == null ? UpstreamProtocol.HTTP1 : upstream;
  }

  /**
   * A cluster whose upstream protocol follows the downstream's ({@link UpstreamProtocol#DOWNSTREAM}): what a cluster
   * built without a declared protocol does (tests, TCP clusters, where it is never read).
   */
  public ClusterSpec(String name, LbAlgorithm lb, Duration connectTimeout, Breaker breaker, Outlier outlier) {
    this(name, lb, connectTimeout, breaker, outlier, UpstreamProtocol.DOWNSTREAM);
  }

  /**
   * How the proxy speaks HTTP to a cluster's endpoints, from Envoy's
   * {@code envoy.extensions.upstreams.http.v3.HttpProtocolOptions} on the CDS cluster.
   */
  public enum UpstreamProtocol {
    /** HTTP/1.1 ({@code explicit_http_config.http_protocol_options}, or no options at all: Envoy's default). */
    HTTP1,
    /** HTTP/2 with prior knowledge ({@code explicit_http_config.http2_protocol_options}). */
    HTTP2,
    /** The protocol the request arrived in ({@code use_downstream_protocol_config}). */
    DOWNSTREAM
  }

  public enum LbAlgorithm {
    ROUND_ROBIN,
    LEAST_REQUEST,
    RING_HASH,
    MAGLEV,
    RANDOM
  }

  /**
   * Circuit-breaker thresholds per cluster.
   *
   * @param retryBudgetPercent share of active requests that may be retries; negative when unset
   */
  public record Breaker(int maxConnections, int maxPendingRequests, int maxRequests, int maxRetries,
      double retryBudgetPercent, int minRetryConcurrency) {

    /** Envoy's defaults: 1024 of each, 3 retries, no budget. */
    public static final Breaker DEFAULTS = new Breaker(1024, 1024, 1024, 3, -1, 3);
  }

  public record Outlier(int consecutive5xx, Duration interval, Duration baseEjectionTime, int maxEjectionPercent) {}
}
