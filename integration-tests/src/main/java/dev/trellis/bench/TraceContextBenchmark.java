package dev.trellis.bench;

import com.sun.net.httpserver.HttpServer;
import dev.trellis.proxy.observe.ExchangeTelemetry;
import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.telemetry.Telemetry;
import dev.trellis.telemetry.config.TelemetrySettings;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.SpanKind;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The node proxy's per-request telemetry with metrics and 1 % trace sampling to Zipkin (a loopback sink answering
 * 202), as {@code HttpExchange} drives it: {@link #source} is a request without trace context at the source proxy
 * (a CLIENT exchange: new trace, {@code traceparent} put on the request, duration recorded), {@link #destination}
 * one arriving with the source's unsampled {@code traceparent} (a SERVER exchange continuing it). Run with
 * {@code -prof gc} for bytes allocated per request.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
@State(Scope.Thread)
public class TraceContextBenchmark {

  private static final String UNSAMPLED = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02";
  private static final LocalWorkload WEB = new LocalWorkload("d/web-0", "d", null, List.of("127.0.0.1"), true,
      LocalWorkload.MtlsMode.STRICT, Map.of());

  private HttpServer sink;
  private Telemetry telemetry;
  private HttpRequest outbound;
  private HttpRequest inbound;

  @Setup(Level.Trial)
  public void setUp() throws IOException {
    sink = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    sink.createContext("/", ex -> {
      ex.getRequestBody().readAllBytes();
      ex.sendResponseHeaders(202, -1);
      ex.close();
    });
    sink.start();
    URI zipkin = URI.create("http://127.0.0.1:" + sink.getAddress().getPort() + "/api/v2/spans");
    telemetry = Telemetry.create(new TelemetrySettings(0.01, List.of(new TelemetrySettings.Exporter.Zipkin(zipkin)),
        2048, TelemetrySettings.AccessLogSettings.off()), "bench", Attributes.empty());
    outbound = request();
    inbound = request();
  }

  private static HttpRequest request() {
    HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/index.html");
    r.headers().set("host", "web.d.svc.cluster.local").set("user-agent", "h2load").set("accept", "*/*");
    return r;
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    telemetry.close();
    sink.stop(0);
  }

  @Benchmark
  public Object source() {
    HttpHeaders headers = outbound.headers();
    headers.remove("traceparent"); // as it came from the client: without trace context
    ExchangeTelemetry exchange = ExchangeTelemetry.start(telemetry, SpanKind.CLIENT, "1.1", outbound);
    exchange.inject(headers);
    exchange.onResponse(200, null);
    exchange.end(WEB, null, 0, 0);
    return exchange;
  }

  @Benchmark
  public Object destination() {
    HttpHeaders headers = inbound.headers();
    headers.set("traceparent", UNSAMPLED); // as the source sent it
    ExchangeTelemetry exchange = ExchangeTelemetry.start(telemetry, SpanKind.SERVER, "1.1", inbound);
    exchange.inject(headers);
    exchange.onResponse(200, null);
    exchange.end(WEB, "spiffe://cluster.local/ns/d/sa/client", 0, 0);
    return exchange;
  }
}
