package dev.trellis.telemetry;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.telemetry.config.TelemetrySettings;
import io.opentelemetry.api.baggage.Baggage;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.context.propagation.TextMapPropagator;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PropagationTest {

  private static final TextMapGetter<Map<String, String>> GETTER = new TextMapGetter<>() {
    @Override
    public Iterable<String> keys(Map<String, String> carrier) {
      return carrier.keySet();
    }

    @Override
    public String get(Map<String, String> carrier, String key) {
      return carrier == null ? null : carrier.get(key);
    }
  };

  private static Map<String, String> inject(TextMapPropagator propagator, Context context) {
    Map<String, String> headers = new HashMap<>();
    propagator.inject(context, headers, Map::put);
    return headers;
  }

  @Test
  void traceContextTraceStateAndBaggageSurviveInjectThenExtract() {
    TelemetrySettings settings = new TelemetrySettings(1, List.of(), 64, TelemetrySettings.AccessLogSettings.off());
    try (Telemetry telemetry =
        SdkTelemetry.create(settings, "test", Attributes.empty(), List.of(InMemorySpanExporter.create()))) {
      Context parent = Context.root()
          .with(Span.wrap(SpanContext.createFromRemoteParent("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7",
              TraceFlags.getSampled(), TraceState.builder().put("vendor", "opaque-1").build())))
          .with(Baggage.builder().put("tenant", "acme").build());
      Span span = telemetry.tracer().spanBuilder("GET /").setParent(parent).startSpan();
      Context sent = parent.with(span);

      Map<String, String> headers = inject(telemetry.propagator(), sent);
      span.end();

      assertThat(headers)
          .containsEntry("traceparent",
              "00-4bf92f3577b34da6a3ce929d0e0e4736-" + span.getSpanContext().getSpanId() + "-01")
          .containsEntry("tracestate", "vendor=opaque-1")
          .containsEntry("baggage", "tenant=acme");

      Context received = telemetry.propagator().extract(Context.root(), headers, GETTER);
      SpanContext remote = Span.fromContext(received).getSpanContext();
      assertThat(remote.isRemote()).isTrue();
      assertThat(remote.getTraceId()).isEqualTo("4bf92f3577b34da6a3ce929d0e0e4736");
      assertThat(remote.getSpanId()).isEqualTo(span.getSpanContext().getSpanId());
      assertThat(remote.isSampled()).isTrue();
      assertThat(remote.getTraceState().get("vendor")).isEqualTo("opaque-1");
      assertThat(Baggage.fromContext(received).getEntryValue("tenant")).isEqualTo("acme");
    }
  }

  @Test
  void withTracingOffTheIncomingContextIsPassedOnUnchanged() {
    Map<String, String> incoming = Map.of(
        "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
        "tracestate", "vendor=opaque-1",
        "baggage", "tenant=acme");
    try (Telemetry telemetry = Telemetry.create(TelemetrySettings.metricsOnly(), "test", Attributes.empty())) {
      Context received = telemetry.propagator().extract(Context.root(), incoming, GETTER);
      Span span = telemetry.tracer().spanBuilder("GET /").setParent(received).startSpan();
      assertThat(inject(telemetry.propagator(), received.with(span))).isEqualTo(incoming);
      span.end();
      assertThat(telemetry.droppedSpans()).isZero();
    }
  }
}
