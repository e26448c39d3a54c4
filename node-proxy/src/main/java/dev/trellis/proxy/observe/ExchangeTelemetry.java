package dev.trellis.proxy.observe;

import static dev.trellis.telemetry.attributes.MeshAttributes.DESTINATION_NAMESPACE;
import static dev.trellis.telemetry.attributes.MeshAttributes.DESTINATION_PRINCIPAL;
import static dev.trellis.telemetry.attributes.MeshAttributes.DESTINATION_SERVICE;
import static dev.trellis.telemetry.attributes.MeshAttributes.DESTINATION_WORKLOAD;
import static dev.trellis.telemetry.attributes.MeshAttributes.DIRECTION;
import static dev.trellis.telemetry.attributes.MeshAttributes.ERROR_TYPE;
import static dev.trellis.telemetry.attributes.MeshAttributes.HTTP_REQUEST_METHOD;
import static dev.trellis.telemetry.attributes.MeshAttributes.HTTP_REQUEST_RESEND_COUNT;
import static dev.trellis.telemetry.attributes.MeshAttributes.HTTP_RESPONSE_STATUS_CODE;
import static dev.trellis.telemetry.attributes.MeshAttributes.NETWORK_PROTOCOL_VERSION;
import static dev.trellis.telemetry.attributes.MeshAttributes.RESPONSE_FLAGS;
import static dev.trellis.telemetry.attributes.MeshAttributes.RPC_GRPC_STATUS_CODE;
import static dev.trellis.telemetry.attributes.MeshAttributes.RPC_METHOD;
import static dev.trellis.telemetry.attributes.MeshAttributes.RPC_SERVICE;
import static dev.trellis.telemetry.attributes.MeshAttributes.RPC_SYSTEM;
import static dev.trellis.telemetry.attributes.MeshAttributes.SECURITY_POLICY;
import static dev.trellis.telemetry.attributes.MeshAttributes.SERVER_ADDRESS;
import static dev.trellis.telemetry.attributes.MeshAttributes.SOURCE_NAMESPACE;
import static dev.trellis.telemetry.attributes.MeshAttributes.SOURCE_PRINCIPAL;
import static dev.trellis.telemetry.attributes.MeshAttributes.SOURCE_WORKLOAD;
import static dev.trellis.telemetry.attributes.MeshAttributes.UPSTREAM_CLUSTER;
import static dev.trellis.telemetry.attributes.MeshAttributes.UPSTREAM_HOST;
import static dev.trellis.telemetry.attributes.MeshAttributes.URL_PATH;

import dev.trellis.proxy.cluster.Host;
import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.telemetry.Telemetry;
import dev.trellis.telemetry.accesslog.AccessLogEntry;
import dev.trellis.telemetry.tracing.RequestSampler;
import dev.trellis.telemetry.tracing.TraceParent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.util.AsciiString;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.common.AttributesBuilder;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanBuilder;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.context.propagation.TextMapSetter;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * What one HTTP exchange tells telemetry, proxied ({@code http.HttpExchange}) or observed ({@link HttpObserverHandler}):
 * a span (CLIENT at the source node proxy, SERVER at the destination) joined to the request's W3C trace context — the incoming {@code traceparent} is its parent, and
 * the span's own context replaces it on the request that goes on, so the destination's server span (and the
 * application) become its children across the HBONE hop; the request-duration histogram; the access-log line.
 * Lives and dies on the exchange's event loop; {@link #end} runs once. With telemetry disabled, trace context
 * passes through unchanged and nothing is recorded.
 */
public final class ExchangeTelemetry {

  private static final TextMapGetter<HttpHeaders> GETTER = new TextMapGetter<>() {
    @Override
    public Iterable<String> keys(HttpHeaders carrier) {
      return carrier.names();
    }

    @Override
    public String get(HttpHeaders carrier, String key) {
      return carrier == null ? null : carrier.get(key);
    }
  };
  private static final TextMapGetter<Http1Scanner.Head> HEAD_GETTER = new TextMapGetter<>() {
    @Override
    public Iterable<String> keys(Http1Scanner.Head carrier) {
      return List.of("traceparent", "tracestate", "baggage");
    }

    @Override
    public String get(Http1Scanner.Head carrier, String key) {
      if (carrier == null) {
        return null;
      }
      return switch (key) {
        case "traceparent" -> carrier.traceparent();
        case "tracestate" -> carrier.tracestate();
        case "baggage" -> carrier.baggage();
        default -> null;
      };
    }
  };
  private static final TextMapSetter<HttpHeaders> SETTER = (carrier, key, value) -> carrier.set(key, value);

  private static final AsciiString TRACEPARENT = AsciiString.cached("traceparent");
  private static final AsciiString TRACESTATE = AsciiString.cached("tracestate");

  private final Telemetry telemetry;
  private final boolean inbound;
  private final long startNanos;
  /** The tracer's span (sampled, or a context only the tracer carries); invalid when the context is our own. */
  private Span span = Span.getInvalid();
  /** The request's trace context without a span ({@link RequestSampler.Start#UNSAMPLED} or {@code PARENT}). */
  private boolean ownContext;
  private long traceIdHigh;
  private long traceIdLow;
  private long spanId;
  private int traceFlags;
  private String ownTraceparent;
  private final String method;
  private final String path;
  private final String authority;
  private final String protocol;
  private final boolean grpc;
  private final String grpcService;
  private final String grpcMethod;
  private Integer status;
  private Integer grpcStatus;
  private String flag;
  private String error;
  private String cluster;
  private Host host;
  private int retries;
  private boolean ended;

  /** With telemetry disabled: no parsing, no span, nothing recorded (the request's trace headers pass unchanged). */
  private ExchangeTelemetry() {
    this.telemetry = Telemetry.disabled();
    this.inbound = false;
    this.startNanos = 0;
    this.span = Span.getInvalid();
    this.method = null;
    this.path = null;
    this.authority = null;
    this.protocol = null;
    this.grpc = false;
    this.grpcService = null;
    this.grpcMethod = null;
    this.ended = true;
  }

  private static final ExchangeTelemetry DISABLED = new ExchangeTelemetry();

  private ExchangeTelemetry(Telemetry telemetry, boolean inbound, String method, String uri, String authority,
      String contentType, String protocol, long startNanos) {
    this.telemetry = telemetry;
    this.inbound = inbound;
    this.startNanos = startNanos;
    this.method = method;
    int q = uri.indexOf('?');
    this.path = q < 0 ? uri : uri.substring(0, q);
    this.authority = authority;
    this.protocol = protocol;
    this.grpc = contentType != null && contentType.startsWith("application/grpc");
    int slash = path.lastIndexOf('/');
    this.grpcService = grpc && slash > 0 ? path.substring(1, slash) : null;
    this.grpcMethod = grpc && slash > 0 ? path.substring(slash + 1) : null;
  }

  /** The span as the tracer starts it under {@code parent} (the path every request took before). */
  private SpanBuilder spanBuilder(Context parent) {
    return telemetry.tracer().spanBuilder(grpc ? grpcService + "/" + grpcMethod : method)
        .setParent(parent).setSpanKind(inbound ? SpanKind.SERVER : SpanKind.CLIENT);
  }

  /**
   * Starts this exchange's trace context without the tracer where {@link RequestSampler} says it can (not sampled,
   * or passed through without an exporter); false when the tracer must start the span under the parent extracted
   * as before ({@link RequestSampler.Start#TRACER}).
   *
   * @param traceparent the request's first {@code traceparent}, or null
   * @param tracestate its first {@code tracestate}, or null
   */
  private boolean startOwnContext(String traceparent, String tracestate) {
    RequestSampler sampler = telemetry.requestSampler();
    if (sampler.mode() == RequestSampler.Mode.TRACER) {
      return false;
    }
    boolean parentValid = traceparent != null && TraceParent.valid(traceparent);
    long rootHigh = 0;
    long rootLow = 0;
    if (!parentValid && sampler.mode() == RequestSampler.Mode.PARENT_BASED_RATIO) {
      // A new trace id as the SDK makes one (low half never zero), drawn before deciding: ratio sampling reads it.
      rootHigh = ThreadLocalRandom.current().nextLong();
      rootLow = nonZeroRandom();
    }
    RequestSampler.Start start = sampler.decide(parentValid, parentValid && TraceParent.sampled(traceparent),
        parentValid && tracestate != null && !tracestate.isEmpty(), rootLow);
    switch (start) {
      case NONE -> {
        return true;
      }
      case PARENT -> {
        ownContext = true;
        traceIdHigh = TraceParent.traceIdHigh(traceparent);
        traceIdLow = TraceParent.traceIdLow(traceparent);
        spanId = TraceParent.spanId(traceparent);
        traceFlags = TraceParent.flags(traceparent);
        ownTraceparent = TraceParent.canonical(traceparent) ? traceparent : null;
        return true;
      }
      case UNSAMPLED -> {
        ownContext = true;
        traceIdHigh = parentValid ? TraceParent.traceIdHigh(traceparent) : rootHigh;
        traceIdLow = parentValid ? TraceParent.traceIdLow(traceparent) : rootLow;
        spanId = nonZeroRandom();
        traceFlags = RequestSampler.unsampledFlags(parentValid, parentValid ? TraceParent.flags(traceparent) : 0);
        return true;
      }
      case SAMPLED_ROOT -> {
        span = sampler.startRoot(spanBuilder(Context.root()), rootHigh, rootLow);
        return true;
      }
      default -> {
        return false;
      }
    }
  }

  /** A random id as the SDK draws span ids and a trace id's low half: never zero (zero means invalid). */
  private static long nonZeroRandom() {
    ThreadLocalRandom random = ThreadLocalRandom.current();
    long id;
    do {
      id = random.nextLong();
    } while (id == 0);
    return id;
  }

  /** Starts the tracer's span under {@code parent} (a sampled parent, or one with tracestate). */
  private void startSpan(Context parent) {
    span = spanBuilder(parent).startSpan();
  }

  /**
   * Starts the telemetry of a request the HTTP engine proxies, when its request headers arrive.
   *
   * @param kind {@link SpanKind#SERVER} at the destination (an inspected connection), {@link SpanKind#CLIENT} at the
   *     source
   * @param protocol {@code "1.1"} or {@code "2"}
   */
  public static ExchangeTelemetry start(Telemetry telemetry, SpanKind kind, String protocol, HttpRequest request) {
    if (telemetry == Telemetry.disabled()) {
      return DISABLED; // the hot path without telemetry does no per-request work here
    }
    HttpHeaders headers = request.headers();
    ExchangeTelemetry exchange = new ExchangeTelemetry(telemetry, kind == SpanKind.SERVER, request.method().name(),
        request.uri(), headers.get(HttpHeaderNames.HOST), headers.get(HttpHeaderNames.CONTENT_TYPE), protocol,
        System.nanoTime());
    String traceparent = headers.get(TRACEPARENT);
    if (!exchange.startOwnContext(traceparent, traceparent == null ? null : headers.get(TRACESTATE))) {
      exchange.startSpan(telemetry.propagator().extract(Context.root(), headers, GETTER));
    }
    return exchange;
  }

  /**
   * Starts the telemetry of a request the destination observes passively on a connection it relays
   * ({@link HttpObserverHandler}): a SERVER span joined to the trace context that {@code getter} reads from
   * {@code carrier}.
   *
   * @param protocol {@code "1.1"} or {@code "2"}
   */
  static <C> ExchangeTelemetry observed(Telemetry telemetry, String protocol, String method, String target,
      String authority, String contentType, C carrier, TextMapGetter<C> getter) {
    ExchangeTelemetry exchange = new ExchangeTelemetry(telemetry, true, method, target, authority, contentType,
        protocol, System.nanoTime());
    String traceparent = getter.get(carrier, "traceparent");
    if (!exchange.startOwnContext(traceparent, traceparent == null ? null : getter.get(carrier, "tracestate"))) {
      exchange.startSpan(telemetry.propagator().extract(Context.root(), carrier, getter));
    }
    return exchange;
  }

  /** Starts the telemetry of an HTTP/1.1 request observed passively. */
  static ExchangeTelemetry observed(Telemetry telemetry, Http1Scanner.Head head) {
    // Without baggage on the request only the trace context needs reading (the composite's baggage half is costly).
    ExchangeTelemetry exchange = new ExchangeTelemetry(telemetry, true, head.method(), head.target(), head.host(),
        head.contentType(), "1.1", System.nanoTime());
    if (!exchange.startOwnContext(head.traceparent(), head.tracestate())) {
      Context parent = (head.baggage() == null ? W3CTraceContextPropagator.getInstance() : telemetry.propagator())
          .extract(Context.root(), head, HEAD_GETTER);
      exchange.startSpan(parent);
    }
    return exchange;
  }

  /**
   * This span's context as a W3C {@code traceparent} value (version 00), or null when the span has no valid
   * context (telemetry disabled).
   */
  String traceparent() {
    if (ownContext) {
      return ownTraceparent();
    }
    SpanContext sc = span.getSpanContext();
    if (!sc.isValid()) {
      return null;
    }
    return "00-" + sc.getTraceId() + "-" + sc.getSpanId() + "-" + sc.getTraceFlags().asHex();
  }

  private String ownTraceparent() {
    if (ownTraceparent == null) {
      ownTraceparent = TraceParent.format(traceIdHigh, traceIdLow, spanId, traceFlags);
    }
    return ownTraceparent;
  }

  /**
   * Puts this exchange's trace context on the request that goes on: its {@code traceparent} replaces the caller's,
   * and a non-empty {@code tracestate} of the context replaces the caller's; {@code baggage} is kept. Without a
   * valid context (telemetry disabled, or no exporter and no valid parent) the headers stay as they came.
   */
  public void inject(HttpHeaders headers) {
    if (ownContext) {
      headers.set(TRACEPARENT, ownTraceparent()); // an own context never has tracestate (else it took the tracer)
      return;
    }
    SpanContext sc = span.getSpanContext();
    if (sc.isValid()) {
      telemetry.propagator().inject(Context.root().with(span), headers, SETTER);
    }
  }

  public void onRoute(String clusterName) {
    if (this == DISABLED) {
      return;
    }
    this.cluster = clusterName;
  }

  public void onAttempt(Host host, int retries) {
    if (this == DISABLED) {
      return;
    }
    this.host = host;
    this.retries = retries;
  }

  public void onResponse(int status, Integer grpcStatus) {
    if (this == DISABLED) {
      return;
    }
    this.status = status;
    if (grpcStatus != null) {
      this.grpcStatus = grpcStatus;
    }
  }

  public void onTrailers(HttpHeaders trailers) {
    onGrpcStatus(trailers.get("grpc-status"));
  }

  /** A {@code grpc-status} value seen in trailers (or a trailers-only response); null is ignored. */
  void onGrpcStatus(CharSequence value) {
    if (this == DISABLED || value == null) {
      return;
    }
    try {
      grpcStatus = Integer.parseInt(value.toString().trim());
    } catch (NumberFormatException e) {
      // not a status: leave it unknown
    }
  }

  /** The proxy answered itself with {@code status}; {@code flag} is the reply's response flag (Envoy's letters). */
  public void onLocalReply(int status, String flag) {
    if (this == DISABLED) {
      return;
    }
    this.status = status;
    this.flag = flag;
  }

  /** The response could not be completed (reset, downstream gone); {@code reason} becomes {@code error.type}. */
  public void onError(String reason) {
    if (this == DISABLED) {
      return;
    }
    if (error == null) {
      error = reason;
    }
  }

  /** Ends the span, records the duration and writes the access-log line; once. */
  public void end(LocalWorkload local, String peer, long bytesReceived, long bytesSent) {
    if (ended) {
      return;
    }
    ended = true;
    long nanos = System.nanoTime() - startNanos;
    String errorType = error != null ? error : status != null && status >= 500 ? Integer.toString(status) : null;
    // Outbound metrics do not depend on the caller's address; inbound ones do not depend on an upstream host.
    MetricAttributesCache cache = MetricAttributesCache.current();
    MetricAttributesCache.Key key = new MetricAttributesCache.Key(inbound, method, protocol, status, grpcStatus, flag,
        errorType, local, inbound ? null : host, inbound ? null : cluster, inbound ? peer : null);
    Attributes metricAttributes = cache.find(key);
    if (metricAttributes == null) {
      metricAttributes = metricAttributes(local, peer, errorType);
      cache.put(key, metricAttributes);
    }
    if (inbound) {
      telemetry.metrics().serverRequest(metricAttributes, nanos);
    } else {
      telemetry.metrics().clientRequest(metricAttributes, nanos);
    }
    boolean logged = telemetry.accessLog().enabled();
    if (!span.isRecording() && !logged) {
      return; // the common case at low sampling without an access log: nothing more to build
    }
    String destinationPrincipal;
    String sourcePrincipal;
    String destinationWorkload;
    if (inbound) {
      destinationWorkload = local.name();
      destinationPrincipal = local.identity() == null ? null : local.identity().toString();
      sourcePrincipal = peer == null || peer.isEmpty() ? null : peer;
    } else {
      var ep = host == null ? null : host.endpoint();
      destinationWorkload = ep == null ? null : ep.workload();
      destinationPrincipal = ep == null || ep.identity() == null ? null : ep.identity().toString();
      sourcePrincipal = local == null || local.identity() == null ? null : local.identity().toString();
    }
    if (span.isRecording()) {
      span.setAllAttributes(metricAttributes);
      span.setAttribute(URL_PATH, path);
      if (authority != null) {
        span.setAttribute(SERVER_ADDRESS, authority);
      }
      if (grpcService != null) {
        span.setAttribute(RPC_SERVICE, grpcService);
        span.setAttribute(RPC_METHOD, grpcMethod);
      }
      if (cluster != null) {
        span.setAttribute(UPSTREAM_CLUSTER, cluster);
      }
      if (host != null) {
        span.setAttribute(UPSTREAM_HOST, host.endpoint().hostPort());
      }
      if (destinationPrincipal != null) {
        span.setAttribute(DESTINATION_PRINCIPAL, destinationPrincipal);
      }
      if (retries > 0) {
        span.setAttribute(HTTP_REQUEST_RESEND_COUNT, (long) retries);
      }
      if (errorType != null) {
        span.setStatus(StatusCode.ERROR, errorType);
      }
      span.end();
    }
    if (logged) {
      SpanContext sc = span.getSpanContext();
      String traceId = ownContext ? TraceParent.hex(traceIdHigh) + TraceParent.hex(traceIdLow)
          : sc.isValid() ? sc.getTraceId() : null;
      String spanIdHex = ownContext ? TraceParent.hex(spanId) : sc.isValid() ? sc.getSpanId() : null;
      telemetry.accessLog().log(new AccessLogEntry(Instant.now().minusNanos(nanos),
          TimeUnit.NANOSECONDS.toMicros(nanos), traceId, spanIdHex, inbound ? "inbound" : "outbound",
          grpcStatus != null ? "gRPC" : "HTTP/" + protocol, method, authority, path, status, grpcStatus, flag,
          bytesReceived, bytesSent, cluster, host == null ? null : host.endpoint().hostPort(),
          retries + (host == null ? 0 : 1), inbound ? null : local == null ? null : local.name(), sourcePrincipal,
          destinationWorkload, service(), destinationPrincipal,
          "mutual_tls".equals(metricAttributes.get(SECURITY_POLICY)), error));
    }
  }

  /** The request metric's attributes (also the span's base attributes). */
  private Attributes metricAttributes(LocalWorkload local, String peer, String errorType) {
    AttributesBuilder a = Attributes.builder().put(HTTP_REQUEST_METHOD, method)
        .put(NETWORK_PROTOCOL_VERSION, protocol).put(DIRECTION, inbound ? "inbound" : "outbound");
    if (status != null) {
      a.put(HTTP_RESPONSE_STATUS_CODE, status.longValue());
    }
    if (grpcStatus != null) {
      a.put(RPC_SYSTEM, "grpc").put(RPC_GRPC_STATUS_CODE, grpcStatus.longValue());
    }
    if (flag != null) {
      a.put(RESPONSE_FLAGS, flag);
    }
    if (errorType != null) {
      a.put(ERROR_TYPE, errorType);
    }
    if (inbound) {
      // At the destination the local workload is the callee; the peer is the caller's verified identity.
      a.put(DESTINATION_WORKLOAD, local.name()).put(DESTINATION_NAMESPACE, local.namespace());
      String sourcePrincipal = peer == null || peer.isEmpty() ? null : peer;
      if (sourcePrincipal != null) {
        a.put(SOURCE_PRINCIPAL, sourcePrincipal);
        int ns = sourcePrincipal.indexOf("/ns/");
        int sa = sourcePrincipal.indexOf("/sa/");
        if (ns >= 0 && sa > ns) {
          a.put(SOURCE_NAMESPACE, sourcePrincipal.substring(ns + 4, sa));
        }
      }
      a.put(SECURITY_POLICY, sourcePrincipal != null ? "mutual_tls" : "none");
    } else {
      if (local != null) {
        a.put(SOURCE_WORKLOAD, local.name()).put(SOURCE_NAMESPACE, local.namespace());
      }
      var ep = host == null ? null : host.endpoint();
      String destinationWorkload = ep == null ? null : ep.workload();
      if (destinationWorkload != null) {
        int slash = destinationWorkload.indexOf('/');
        a.put(DESTINATION_WORKLOAD, slash < 0 ? destinationWorkload : destinationWorkload.substring(slash + 1));
        if (slash > 0) {
          a.put(DESTINATION_NAMESPACE, destinationWorkload.substring(0, slash));
        }
      }
      boolean mtls = ep != null && ep.inMesh() && local != null && local.identity() != null;
      a.put(SECURITY_POLICY, mtls ? "mutual_tls" : "none");
    }
    String service = service();
    if (service != null) {
      a.put(DESTINATION_SERVICE, service);
    }
    return a.build();
  }

  /** The destination service from the outbound cluster name ({@code outbound|port||fqdn}), if it is one. */
  private String service() {
    if (cluster == null || inbound) {
      return null;
    }
    int bars = cluster.lastIndexOf('|');
    return cluster.startsWith("outbound|") && bars > 0 ? cluster.substring(bars + 1) : cluster;
  }
}
