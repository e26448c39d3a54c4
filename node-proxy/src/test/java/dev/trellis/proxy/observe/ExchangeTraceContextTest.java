package dev.trellis.proxy.observe;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.proxy.testing.RecordingTelemetry;
import dev.trellis.telemetry.Telemetry;
import dev.trellis.telemetry.accesslog.AccessLog;
import dev.trellis.telemetry.accesslog.AccessLogEntry;
import dev.trellis.telemetry.metrics.MeshMetrics;
import dev.trellis.telemetry.metrics.MetricsPipeline;
import dev.trellis.telemetry.tracing.RequestSampler;
import dev.trellis.telemetry.tracing.TraceParent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.propagation.TextMapPropagator;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * The trace context a proxied request carries on is the same whether the request went through the tracer (the path
 * every request took before {@link RequestSampler}) or took the unsampled / pass-through shortcut: same headers out
 * (ids that are new on either path compared as "new"), same spans recorded with the same names, kinds and parents.
 */
class ExchangeTraceContextTest {

  private static final String TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
  private static final String SPAN = "00f067aa0ba902b7";

  /** Requests as they may arrive: header name and value pairs, in order. */
  private static final List<List<String>> REQUESTS = List.of(
      List.of(),
      List.of("traceparent", "00-" + TRACE + "-" + SPAN + "-01"),
      List.of("traceparent", "00-" + TRACE + "-" + SPAN + "-00"),
      List.of("traceparent", "00-" + TRACE + "-" + SPAN + "-02"),
      List.of("traceparent", "00-" + TRACE + "-" + SPAN + "-03"),
      List.of("traceparent", "cc-" + TRACE + "-" + SPAN + "-00-future"),
      List.of("traceparent", "cc-" + TRACE + "-" + SPAN + "-01-future"),
      List.of("traceparent", "ff-" + TRACE + "-" + SPAN + "-00"),
      List.of("traceparent", "00-" + TRACE.toUpperCase() + "-" + SPAN + "-00"),
      List.of("traceparent", "00-00000000000000000000000000000000-" + SPAN + "-00"),
      List.of("traceparent", "00-" + TRACE + "-0000000000000000-00"),
      List.of("traceparent", "00-" + TRACE + "-" + SPAN + "-00-extra"),
      List.of("traceparent", "garbage"),
      List.of("traceparent", ""),
      List.of("traceparent", "00-" + TRACE + "-" + SPAN + "-00", "tracestate", "vendor=opaque-1"),
      List.of("traceparent", "00-" + TRACE + "-" + SPAN + "-01", "tracestate", "vendor=opaque-1 , other=x"),
      List.of("traceparent", "00-" + TRACE + "-" + SPAN + "-00", "tracestate", "not a tracestate"),
      List.of("traceparent", "00-" + TRACE + "-" + SPAN + "-00", "tracestate", ""),
      List.of("traceparent", "garbage", "tracestate", "vendor=opaque-1"),
      List.of("tracestate", "vendor=opaque-1"),
      List.of("traceparent", "00-" + TRACE + "-" + SPAN + "-00", "baggage", "tenant=blue"),
      List.of("baggage", "tenant=blue,bad"),
      List.of("traceparent", "00-" + TRACE + "-" + SPAN + "-00", "traceparent",
          "00-" + TRACE + "-" + "1111111111111111" + "-01"),
      List.of("traceparent", "00-" + TRACE + "-" + SPAN + "-00", "content-type", "application/grpc"));

  private static HttpRequest request(List<String> headers) {
    HttpRequest request = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/svc.Greeter/Hello?x=1");
    request.headers().set("host", "web.d.svc.cluster.local");
    for (int i = 0; i < headers.size(); i += 2) {
      request.headers().add(headers.get(i), headers.get(i + 1));
    }
    return request;
  }

  /** What goes on: the trace headers, with ids that neither path could predict written as "new". */
  private static Map<String, List<String>> sent(List<String> in, HttpHeaders out) {
    Map<String, List<String>> seen = new LinkedHashMap<>();
    for (String name : List.of("traceparent", "tracestate", "baggage")) {
      List<String> values = new ArrayList<>();
      for (String v : out.getAll(name)) {
        values.add(name.equals("traceparent") ? generalize(in, v) : v);
      }
      seen.put(name, values);
    }
    return seen;
  }

  private static String generalize(List<String> in, String value) {
    if (!TraceParent.valid(value)) {
      return value; // left as it came (no exporter, no valid parent): compared as is
    }
    String trace = value.substring(3, 35);
    String span = value.substring(36, 52);
    boolean knownTrace = trace.equals(TRACE);
    boolean knownSpan = span.equals(SPAN) || span.equals("1111111111111111");
    return value.substring(0, 3) + (knownTrace ? trace : "<new trace>") + "-" + (knownSpan ? span : "<new span>")
        + value.substring(52);
  }

  private static final LocalWorkload WEB = new LocalWorkload("d/web-0", "d", null, List.of("127.0.0.1"), true,
      LocalWorkload.MtlsMode.STRICT, Map.of());

  /** What one exchange did: headers sent on, spans recorded, and the access log's trace id and span id. */
  private record Outcome(Map<String, List<String>> sent, List<String> spans, String loggedTrace,
      boolean loggedSpanIsSent) {}

  private static Outcome run(Telemetry telemetry, SpanKind kind, List<String> headers,
      Supplier<List<SpanData>> finished, Supplier<AccessLogEntry> logged) {
    HttpRequest request = request(headers);
    ExchangeTelemetry exchange = ExchangeTelemetry.start(telemetry, kind, "1.1", request);
    String own = exchange.traceparent();
    exchange.inject(request.headers());
    if (own != null) {
      assertThat(request.headers().get("traceparent")).as("traceparent() is what inject wrote").isEqualTo(own);
    }
    exchange.onResponse(200, null);
    exchange.end(WEB, "spiffe://cluster.local/ns/d/sa/client", 0, 0);
    List<String> spans = finished.get().stream().map(s -> s.getKind() + " " + s.getName() + " parent "
        + (s.getParentSpanContext().isValid() ? s.getParentSpanId() : "none") + " trace "
        + (s.getTraceId().equals(TRACE) ? TRACE : "<new>")).toList();
    AccessLogEntry entry = logged.get();
    String sentTraceparent = request.headers().get("traceparent");
    String loggedTrace = entry == null ? "no log" : entry.traceId() == null ? "none"
        : entry.traceId().equals(TRACE) ? TRACE : "<new>";
    boolean loggedSpanIsSent = entry != null && entry.spanId() != null && sentTraceparent != null
        && sentTraceparent.substring(36, 52).equals(entry.spanId())
        && (entry.traceId().equals(sentTraceparent.substring(3, 35)));
    return new Outcome(sent(headers, request.headers()), spans, loggedTrace, loggedSpanIsSent);
  }

  @Test
  void withAnExporterEveryRequestCarriesOnTheContextTheTracerWouldHaveGivenIt() {
    for (double ratio : new double[] {0.0, 1.0}) {
      for (SpanKind kind : List.of(SpanKind.CLIENT, SpanKind.SERVER)) {
        for (List<String> headers : REQUESTS) {
          try (RecordingTelemetry before = new RecordingTelemetry(
                  Sampler.parentBased(Sampler.traceIdRatioBased(ratio)));
              RecordingTelemetry after = new RecordingTelemetry(ratio)) {
            assertThat(before.requestSampler().mode()).isEqualTo(RequestSampler.Mode.TRACER);
            assertThat(after.requestSampler().mode()).isEqualTo(RequestSampler.Mode.PARENT_BASED_RATIO);
            Outcome expected = run(before, kind, headers, before.spans::getFinishedSpanItems, before.accessLog::poll);
            Outcome actual = run(after, kind, headers, after.spans::getFinishedSpanItems, after.accessLog::poll);
            assertThat(actual).as("ratio %s, %s, %s", ratio, kind, headers).isEqualTo(expected);
          }
        }
      }
    }
  }

  @Test
  void withoutAnExporterAValidParentPassesOnAsTheNoopTracerPassedIt() {
    for (List<String> headers : REQUESTS) {
      for (SpanKind kind : List.of(SpanKind.CLIENT, SpanKind.SERVER)) {
        Outcome expected = run(new NoExporter(RequestSampler.tracer()), kind, headers, List::of, () -> null);
        Outcome actual = run(new NoExporter(RequestSampler.passThrough()), kind, headers, List::of, () -> null);
        assertThat(actual).as("%s %s", kind, headers).isEqualTo(expected);
      }
    }
  }

  @Test
  void anUnsampledRootGetsAFreshValidTraceparentWithTheSampledFlagOffAndTheRandomTraceIdFlagOn() {
    try (RecordingTelemetry telemetry = new RecordingTelemetry(0.0)) {
      List<String> seen = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        HttpRequest request = request(List.of());
        ExchangeTelemetry exchange = ExchangeTelemetry.start(telemetry, SpanKind.CLIENT, "1.1", request);
        exchange.inject(request.headers());
        exchange.end(WEB, null, 0, 0);
        String tp = request.headers().get("traceparent");
        assertThat(TraceParent.valid(tp)).isTrue();
        assertThat(tp).as("W3C level 2: flags 02, a random trace id, not sampled").startsWith("00-").endsWith("-02");
        seen.add(tp.substring(3, 35));
      }
      assertThat(seen).as("a new trace id each time").doesNotHaveDuplicates();
      assertThat(telemetry.spans.getFinishedSpanItems()).isEmpty();
    }
  }

  /** Telemetry without an exporter (OpenTelemetry's no-op tracer), with the request sampler under test. */
  private record NoExporter(RequestSampler requestSampler) implements Telemetry {
    @Override
    public Tracer tracer() {
      return Telemetry.disabled().tracer();
    }

    @Override
    public TextMapPropagator propagator() {
      return Telemetry.disabled().propagator();
    }

    @Override
    public MeshMetrics metrics() {
      return MeshMetrics.noop();
    }

    @Override
    public AccessLog accessLog() {
      return AccessLog.off();
    }

    @Override
    public Optional<MetricsPipeline> metricsPipeline() {
      return Optional.empty();
    }

    @Override
    public long droppedSpans() {
      return 0;
    }

    @Override
    public void close() {}
  }
}
