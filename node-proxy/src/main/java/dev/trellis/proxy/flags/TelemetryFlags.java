package dev.trellis.proxy.flags;

import dev.trellis.telemetry.config.TelemetrySettings;
import java.net.URI;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * The telemetry flags of the node proxy and the standalone proxy (a picocli mixin), read into settings (errors name
 * the flag and what it expects):
 *
 * <pre>
 * --telemetry on|off             default on: request/connection metrics on /metrics; off also skips HTTP parsing at
 *                                destinations that no policy needs
 * --tracing-sampling RATIO       0..1, default 0.01 (parent-based: a caller's decision is kept)
 * --otlp-grpc URL | --otlp-http URL | --zipkin URL    where spans go (any of them; none: no spans)
 * --max-queued-spans N           default 2048; spans beyond it are dropped and counted
 * --access-log stdout|stderr|FILE   one JSON line per request or connection; default none
 * --access-log-sampling RATIO    0..1, default 1 (failures are always logged)
 * </pre>
 */
public final class TelemetryFlags {

  @Option(names = "--telemetry", paramLabel = "on|off", description = "Request and connection metrics on /metrics, "
      + "spans and access log (default: on for the node proxy, off for the standalone proxy); off also skips HTTP "
      + "parsing at destinations that no policy needs.")
  String telemetry;

  @Option(names = "--tracing-sampling", paramLabel = "RATIO", description = "0..1, default 0.01 (parent-based: a "
      + "caller's decision is kept).")
  String tracingSampling;

  @Option(names = "--otlp-grpc", paramLabel = "URL", description = "Send spans by OTLP/gRPC, e.g. "
      + "http://otel-collector:4317.")
  String otlpGrpc;

  @Option(names = "--otlp-http", paramLabel = "URL", description = "Send spans by OTLP/HTTP, e.g. "
      + "http://otel-collector:4318.")
  String otlpHttp;

  @Option(names = "--zipkin", paramLabel = "URL", description = "Send spans to Zipkin, e.g. "
      + "http://zipkin:9411/api/v2/spans.")
  String zipkin;

  @Option(names = "--max-queued-spans", paramLabel = "N", description = "Spans queued for export at most (default "
      + "2048); more are dropped and counted.")
  String maxQueuedSpans;

  @Option(names = "--access-log", paramLabel = "stdout|stderr|FILE", description = "One JSON line per request or "
      + "connection (default: none).")
  String accessLog;

  @Option(names = "--access-log-sampling", paramLabel = "RATIO", description = "0..1, default 1 (failures are always "
      + "logged).")
  String accessLogSampling;

  /** Whether {@code --telemetry} was given (the standalone proxy has telemetry only when asked for). */
  public boolean modeGiven() {
    return telemetry != null;
  }

  /**
   * The settings the flags ask for, or null for {@code --telemetry off}.
   *
   * @throws IllegalArgumentException naming the flag and what it expects
   */
  public TelemetrySettings settings() {
    Map<String, String> opts = new LinkedHashMap<>();
    put(opts, "telemetry", telemetry);
    put(opts, "tracing-sampling", tracingSampling);
    put(opts, "otlp-grpc", otlpGrpc);
    put(opts, "otlp-http", otlpHttp);
    put(opts, "zipkin", zipkin);
    put(opts, "max-queued-spans", maxQueuedSpans);
    put(opts, "access-log", accessLog);
    put(opts, "access-log-sampling", accessLogSampling);
    return parse(opts);
  }

  private static void put(Map<String, String> opts, String flag, String value) {
    if (value != null) {
      opts.put(flag, value);
    }
  }

  /** The settings, or null for {@code --telemetry off}. */
  static TelemetrySettings parse(Map<String, String> opts) {
    String mode = opts.getOrDefault("telemetry", "on");
    if (mode.equals("off")) {
      return null;
    }
    if (!mode.equals("on")) {
      throw new IllegalArgumentException("--telemetry '" + mode + "' (expected: on or off)");
    }
    List<TelemetrySettings.Exporter> exporters = new ArrayList<>();
    if (opts.containsKey("otlp-grpc")) {
      exporters.add(new TelemetrySettings.Exporter.OtlpGrpc(uri(opts, "otlp-grpc")));
    }
    if (opts.containsKey("otlp-http")) {
      exporters.add(new TelemetrySettings.Exporter.OtlpHttp(uri(opts, "otlp-http")));
    }
    if (opts.containsKey("zipkin")) {
      exporters.add(new TelemetrySettings.Exporter.Zipkin(uri(opts, "zipkin")));
    }
    double sampling = ratio(opts, "tracing-sampling", 0.01);
    int queued;
    try {
      queued = Integer.parseInt(opts.getOrDefault("max-queued-spans", "2048"));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--max-queued-spans '" + opts.get("max-queued-spans") + "' (expected: a "
          + "whole number >= 1)");
    }
    if (queued < 1) {
      throw new IllegalArgumentException("--max-queued-spans " + queued + " (expected: >= 1)");
    }
    TelemetrySettings.AccessLogSettings log = opts.containsKey("access-log")
        ? new TelemetrySettings.AccessLogSettings(opts.get("access-log"), ratio(opts, "access-log-sampling", 1.0))
        : TelemetrySettings.AccessLogSettings.off();
    return new TelemetrySettings(sampling, exporters, queued, log);
  }

  private static URI uri(Map<String, String> opts, String flag) {
    String v = opts.get(flag);
    try {
      URI u = URI.create(v);
      if (u.getScheme() == null || u.getHost() == null || !(u.getScheme().equals("http") || u.getScheme().equals("https"))) {
        throw new IllegalArgumentException("not an http(s) URL");
      }
      return u;
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--" + flag + " '" + v + "' (expected: an http(s) URL such as "
          + (flag.equals("zipkin") ? "http://zipkin:9411/api/v2/spans" : flag.equals("otlp-grpc")
              ? "http://otel-collector:4317" : "http://otel-collector:4318") + ")");
    }
  }

  private static double ratio(Map<String, String> opts, String flag, double fallback) {
    String v = opts.get(flag);
    if (v == null) {
      return fallback;
    }
    try {
      double r = Double.parseDouble(v);
      if (r >= 0 && r <= 1) {
        return r;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IllegalArgumentException("--" + flag + " '" + v + "' (expected: a ratio from 0 to 1, e.g. 0.01)");
  }
}
