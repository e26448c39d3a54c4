package dev.trellis.controlplane.model;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;

/**
 * The mesh file's {@code telemetry} section: what the node proxies of a local run record and where they send it.
 * Node proxies take these as flags ({@link #nodeProxyFlags}); in a cluster the chart's {@code telemetry.*} values
 * set the same flags.
 *
 * @param enabled request and connection telemetry on (metrics on each proxy's {@code /metrics}, spans, access log)
 * @param tracingSampling parent-based ratio, 0 to 1
 * @param otlpGrpc span and metric export over OTLP/gRPC, or null
 * @param otlpHttp span and metric export over OTLP/HTTP, or null
 * @param zipkin span export to Zipkin's {@code /api/v2/spans}, or null
 * @param maxQueuedSpans spans queued per exporter before new ones are dropped (and counted)
 * @param accessLog {@code stdout}, {@code stderr}, a file (each node gets its own: {@code {node}} in the path is
 *     its name), or null for none
 * @param accessLogSampling ratio of requests logged, 0 to 1 (failures always are)
 */
public record MeshTelemetry(boolean enabled, double tracingSampling, URI otlpGrpc, URI otlpHttp, URI zipkin,
    int maxQueuedSpans, String accessLog, double accessLogSampling) {

  /** Telemetry on, 1 % of new traces sampled, no exporters, no access log: the node proxy's own defaults. */
  public static final MeshTelemetry DEFAULTS = new MeshTelemetry(true, 0.01, null, null, null, 2048, null, 1.0);

  /** The node proxy flags that give node {@code node} these settings. */
  public List<String> nodeProxyFlags(String node) {
    List<String> flags = new ArrayList<>();
    if (!enabled) {
      return List.of("--telemetry", "off");
    }
    flags.addAll(List.of("--telemetry", "on", "--tracing-sampling", Double.toString(tracingSampling),
        "--max-queued-spans", Integer.toString(maxQueuedSpans)));
    if (otlpGrpc != null) {
      flags.addAll(List.of("--otlp-grpc", otlpGrpc.toString()));
    }
    if (otlpHttp != null) {
      flags.addAll(List.of("--otlp-http", otlpHttp.toString()));
    }
    if (zipkin != null) {
      flags.addAll(List.of("--zipkin", zipkin.toString()));
    }
    if (accessLog != null) {
      flags.addAll(List.of("--access-log", accessLog.replace("{node}", node), "--access-log-sampling",
          Double.toString(accessLogSampling)));
    }
    return List.copyOf(flags);
  }
}
