package dev.trellis.controlplane.config;

import dev.trellis.controlplane.model.MeshTelemetry;
import java.net.URI;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;

/**
 * Reads the mesh file's {@code telemetry} section into {@link MeshTelemetry}; what is left out keeps its default
 * ({@link MeshTelemetry#DEFAULTS}). Problems name the field: an exporter that is not an http(s) URL, a ratio outside
 * 0..1. A relative access-log file is resolved against the mesh file's folder.
 */
final class TelemetrySection {

  private TelemetrySection() {}

  static MeshTelemetry parse(YamlValue section, Path baseDir) {
    MeshTelemetry d = MeshTelemetry.DEFAULTS;
    Map<String, YamlValue> f = section.fields(Set.of("enabled", "tracing", "accessLog"));
    Boolean enabled = f.containsKey("enabled") ? f.get("enabled").bool() : null;
    double sampling = d.tracingSampling();
    URI otlpGrpc = null;
    URI otlpHttp = null;
    URI zipkin = null;
    int queued = d.maxQueuedSpans();
    if (f.containsKey("tracing")) {
      Map<String, YamlValue> t = f.get("tracing").fields(Set.of("sampling", "otlpGrpc", "otlpHttp", "zipkin",
          "maxQueuedSpans"));
      sampling = t.containsKey("sampling") ? orElse(t.get("sampling").decimal(0, 1), sampling) : sampling;
      otlpGrpc = t.containsKey("otlpGrpc") ? url(t.get("otlpGrpc"), "http://otel-collector:4317") : null;
      otlpHttp = t.containsKey("otlpHttp") ? url(t.get("otlpHttp"), "http://otel-collector:4318") : null;
      zipkin = t.containsKey("zipkin") ? url(t.get("zipkin"), "http://zipkin:9411/api/v2/spans") : null;
      if (t.containsKey("maxQueuedSpans")) {
        Integer n = t.get("maxQueuedSpans").integer(1, 1_000_000);
        queued = n == null ? queued : n;
      }
    }
    String accessLog = null;
    double logSampling = d.accessLogSampling();
    if (f.containsKey("accessLog")) {
      Map<String, YamlValue> a = f.get("accessLog").fields(Set.of("sink", "sampling"));
      if (!a.containsKey("sink")) {
        f.get("accessLog").problem("missing 'sink' (stdout, stderr or a file; '{node}' in a file name is the "
            + "node's name)");
      } else {
        accessLog = sink(a.get("sink"), baseDir);
      }
      logSampling = a.containsKey("sampling") ? orElse(a.get("sampling").decimal(0, 1), logSampling) : logSampling;
    }
    return new MeshTelemetry(enabled == null ? d.enabled() : enabled, sampling, otlpGrpc, otlpHttp, zipkin, queued,
        accessLog, logSampling);
  }

  private static double orElse(Double value, double fallback) {
    return value == null ? fallback : value;
  }

  private static URI url(YamlValue at, String example) {
    String s = at.string();
    if (s == null) {
      return null;
    }
    try {
      URI u = URI.create(s);
      if (u.getHost() != null && ("http".equals(u.getScheme()) || "https".equals(u.getScheme()))) {
        return u;
      }
    } catch (IllegalArgumentException e) {
      // reported below
    }
    at.problem("'" + s + "' is not an http(s) URL (e.g. " + example + ")");
    return null;
  }

  private static String sink(YamlValue at, Path baseDir) {
    String s = at.string();
    if (s == null || s.isBlank()) {
      at.problem("empty: give stdout, stderr or a file");
      return null;
    }
    if (s.equals("stdout") || s.equals("stderr")) {
      return s;
    }
    Path p = Path.of(s);
    return (p.isAbsolute() || baseDir == null ? p : baseDir.resolve(p)).normalize().toString();
  }
}
