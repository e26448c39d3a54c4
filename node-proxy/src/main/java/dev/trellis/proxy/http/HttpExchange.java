package dev.trellis.proxy.http;

import dev.trellis.proxy.cluster.ClusterRuntime;
import dev.trellis.proxy.cluster.Hashing;
import dev.trellis.proxy.cluster.Host;
import dev.trellis.proxy.cluster.LoadBalancer;
import dev.trellis.proxy.observe.ExchangeTelemetry;
import dev.trellis.proxy.resilience.AttemptResult;
import dev.trellis.proxy.resilience.CircuitBreaker.Resource;
import dev.trellis.proxy.resilience.RetryDecision;
import dev.trellis.proxy.route.RequestRouting;
import dev.trellis.proxy.route.RouteTable;
import dev.trellis.proxy.state.PathNormalization;
import dev.trellis.proxy.state.ProxyConfig;
import dev.trellis.proxy.tunnel.SocketRelayHandler;
import dev.trellis.proxy.tunnel.SocketToStreamHandler;
import dev.trellis.proxy.tunnel.StreamToSocketHandler;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.HttpConversionUtil;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.AsciiString;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import io.opentelemetry.api.trace.SpanKind;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One HTTP request through the outbound proxy, from request headers to the last byte of the response,
 * on the downstream's event loop. It routes ({@link RequestRouting}), takes a request slot of the
 * cluster's circuit breaker, picks a host ({@link LoadBalancer}), leases an upstream channel
 * ({@link UpstreamPool}) and streams the request; the response streams back. Until response headers
 * are forwarded, a failed attempt may be retried ({@link RetryDecision}) on another host: the request
 * body is held for replay up to {@link ReplayBuffer#LIMIT_BYTES} ({@link ReplayBuffer}), beyond which it streams without retries.
 * Every attempt's result feeds outlier detection.
 *
 * <p>Backpressure both ways: the request body is read from downstream only while the upstream channel
 * is writable (or while the retry buffer has room before a connection exists); the response is read
 * from upstream only while the downstream is writable.
 */
final class HttpExchange {

  private static final Logger log = LoggerFactory.getLogger(HttpExchange.class);
  private static final AsciiString STREAM_ID = HttpConversionUtil.ExtensionHeaderNames.STREAM_ID.text();

  /** What an exchange needs from its downstream: an HTTP/1.1 connection or an HTTP/2 stream. */
  interface Downstream {
    Channel channel();

    /** Asks for more of the request body. */
    void read();

    /**
     * The response went out whole; {@code keepAlive}: the connection may carry another request. {@code lastWrite} is
     * the write of the response's end when the request had not ended yet (so an HTTP/2 stream is reset only after the
     * response has really left, flow control included), else null.
     */
    void done(boolean keepAlive, ChannelFuture lastWrite);

    /** The response cannot be completed: HTTP/1.1 closes the connection, HTTP/2 resets the stream. */
    void abort();

    /**
     * Whether the proxy is draining this HTTP/1.1 connection: the response about to start carries
     * {@code Connection: close}, and the connection closes after it. HTTP/2 streams: never (GOAWAY tells the client).
     */
    default boolean draining() {
      return false;
    }

    /** Whether this downstream can switch protocols (HTTP/1.1 {@code Upgrade}); HTTP/2 streams cannot. */
    default boolean upgradable() {
      return false;
    }

    /**
     * The upstream answered an upgrade with 101 (already written): from now on {@code relay} carries
     * the connection's bytes to the upstream channel (on the same event loop).
     */
    default void upgrade(ChannelHandler relay) {
      throw new UnsupportedOperationException("this downstream cannot switch protocols");
    }
  }

  private final Downstream down;
  private final HttpContext cx;
  private HttpRequest request;
  private final ReplayBuffer body = new ReplayBuffer();
  private boolean requestComplete;
  /** HTTP/1.1 without Content-Length or chunked framing: the body is empty before its end arrives. */
  private boolean bodyless;
  private boolean keepAliveDown;
  /** An HTTP/1.1 {@code Upgrade} request (WebSocket and the like) that a 101 turns into a byte relay. */
  private boolean upgrade;
  private RouteTable.Rule rule;
  private ClusterRuntime cluster;
  private long hash;
  private boolean hashed;
  private Attempt attempt;
  private final List<Host> tried = new ArrayList<>(2);
  private int retries;
  private boolean staleRetried;
  private boolean downstreamBlocked;
  private ExchangePhase phase = ExchangePhase.REQUEST;
  private boolean holdsRequest;
  private boolean holdsRetry;
  private long deadline = Long.MAX_VALUE;
  private ScheduledFuture<?> routeTimer;
  private ScheduledFuture<?> retryTimer;
  private ExchangeTelemetry telemetry;
  private long responseBytes;
  /** The write of the response's end, kept only while the request has not ended (see {@link Downstream#done}). */
  private ChannelFuture lastWrite;

  /** One try of the request against one host. */
  private final class Attempt {
    final Host host;
    /** What this attempt speaks to the host: the cluster's declared protocol (or the client's, if it says so). */
    final UpstreamPool.Protocol protocol;
    Future<UpstreamPool.Lease> pending;
    UpstreamPool.Lease lease;
    int sent;
    ScheduledFuture<?> perTry;
    boolean informational;
    boolean upstreamKeepAlive = true;
    boolean done;

    Attempt(Host host, UpstreamPool.Protocol protocol) {
      this.host = host;
      this.protocol = protocol;
    }
  }

  HttpExchange(Downstream down, HttpContext cx) {
    this.down = down;
    this.cx = cx;
  }

  boolean finished() {
    return phase == ExchangePhase.DONE;
  }

  ExchangePhase phase() {
    return phase;
  }

  /** Whether the whole request (or, without a body, its headers) has arrived. */
  boolean requestComplete() {
    return requestComplete || bodyless;
  }

  /** Request headers arrived: route, admit, and start the first attempt. */
  void start(HttpRequest req) {
    LastHttpContent whole = null;
    if (req instanceof FullHttpRequest full) {
      request = new DefaultHttpRequest(full.protocolVersion(), full.method(), full.uri(), full.headers());
      whole = new DefaultLastHttpContent(full.content().retain(), full.trailingHeaders());
      full.release();
    } else {
      request = req;
    }
    ProxyConfig config = cx.config().get();
    LocalReply malformed = canonicalize(request, config.paths());
    telemetry = ExchangeTelemetry.start(cx.telemetry(), cx.inbound() ? SpanKind.SERVER : SpanKind.CLIENT,
        cx.protocol() == UpstreamPool.Protocol.HTTP2 ? "2" : "1.1", request);
    keepAliveDown = HttpUtil.isKeepAlive(request);
    bodyless = whole == null && cx.protocol() == UpstreamPool.Protocol.HTTP1
        && !HttpUtil.isTransferEncodingChunked(request) && HttpUtil.getContentLength(request, 0L) == 0;
    if (whole != null) {
      addBody(whole);
    }
    if (malformed != null) {
      reply(malformed);
      return;
    }
    if (cx.gate() != null) {
      LocalReply refused = cx.gate().check(request);
      if (refused != null) {
        reply(refused);
        return;
      }
    }
    String authority = request.headers().get(HttpHeaderNames.HOST);
    RequestRouting.Decision decision = RequestRouting.decide(config.routes().get(cx.routeConfig()), authority,
        request.uri(), this::header, bound -> ThreadLocalRandom.current().nextInt(bound));
    switch (decision) {
      case RequestRouting.NoRoute nr -> {
        reply(LocalReply.of(404, LocalReply.Flag.NR, nr.reason()));
        return;
      }
      case RequestRouting.Forward f -> {
        rule = f.rule();
        telemetry.onRoute(f.cluster());
        cluster = cx.clusters().find(f.cluster());
        if (cluster == null) {
          reply(LocalReply.of(503, LocalReply.Flag.NC, "cluster " + f.cluster() + " not found (config not synced yet?)"));
          return;
        }
      }
    }
    if (!cluster.breaker().tryAcquire(Resource.REQUESTS)) {
      reply(LocalReply.of(503, LocalReply.Flag.UO, "upstream overflow: cluster " + cluster.name() + " has max_requests "
          + cluster.breaker().limit(Resource.REQUESTS) + " in flight"));
      return;
    }
    holdsRequest = true;
    cluster.stats().requests.incrementAndGet();
    RouteTable.Action action = rule.action();
    if (action.hashHeader() != null) {
      String v = request.headers().get(action.hashHeader());
      if (v != null) {
        hash = Hashing.hash(v);
        hashed = true;
      }
    } else if (action.hashSourceIp()) {
      hash = Hashing.hash(cx.sourceAddress());
      hashed = true;
    }
    upgrade = cx.protocol() == UpstreamPool.Protocol.HTTP1 && down.upgradable() && isUpgrade(request);
    HeaderHygiene.strip(request.headers(), upgrade);
    HeaderHygiene.stripMeshHeaders(request.headers());
    if (cx.clientCert() != null) {
      request.headers().set(HeaderHygiene.CLIENT_CERT, cx.clientCert());
    }
    telemetry.inject(request.headers());
    if (requestComplete) {
      startRouteTimer();
    }
    newAttempt();
    maybeReadDownstream();
  }

  /**
   * Puts the request in the one form that routing, authorization and the upstream all see: the method upper-cased
   * ({@link MethodNormalizer}) and the path normalized ({@link PathNormalizer}), both in place. Returns the 400 for
   * a request that cannot be put in that form safely, else null.
   */
  static LocalReply canonicalize(HttpRequest request, PathNormalization paths) {
    String name = request.method().name();
    String method = MethodNormalizer.normalize(name);
    if (method == null) {
      return LocalReply.of(400, LocalReply.Flag.DPE, "the request method is not an HTTP token (RFC 9110 5.6.2)");
    }
    if (!method.equals(name)) {
      request.setMethod(HttpMethod.valueOf(method));
    }
    String uri = request.uri();
    return switch (PathNormalizer.normalize(uri, paths)) {
      case PathNormalizer.Normalized n -> {
        if (uri.length() != n.path().length() + n.query().length() || !uri.startsWith(n.path())) {
          request.setUri(n.uri()); // the upstream receives exactly the path that was routed and authorized
        }
        yield null;
      }
      case PathNormalizer.Refused r -> LocalReply.of(400, LocalReply.Flag.DPE, r.reason());
    };
  }

  /**
   * HTTP/1.1 with {@code Connection: upgrade} and an {@code Upgrade} protocol. {@code h2c} is not
   * passed on: the proxy speaks HTTP/2 to clients itself (prior knowledge), and a relayed h2c
   * connection would escape per-request routing.
   */
  static boolean isUpgrade(HttpRequest req) {
    String protocol = req.headers().get(HttpHeaderNames.UPGRADE);
    if (protocol == null || protocol.isBlank() || !req.protocolVersion().equals(HttpVersion.HTTP_1_1)
        || protocol.strip().toLowerCase(Locale.ROOT).startsWith("h2c")) {
      return false;
    }
    for (String v : req.headers().getAll(HttpHeaderNames.CONNECTION)) {
      for (String token : v.split(",")) {
        if (token.strip().equalsIgnoreCase("upgrade")) {
          return true;
        }
      }
    }
    return false;
  }

  /** Route matches may name pseudo-headers; everything else is a plain header lookup. */
  private String header(String name) {
    return switch (name) {
      case ":method" -> request.method().name();
      case ":path" -> request.uri();
      case ":authority" -> request.headers().get(HttpHeaderNames.HOST);
      default -> request.headers().get(name);
    };
  }

  /** A piece of the request body (the last one may carry trailers). Takes ownership. */
  void onRequestContent(HttpContent c) {
    if (phase == ExchangePhase.DONE || request == null) {
      c.release();
      return;
    }
    addBody(c);
    if (requestComplete) {
      startRouteTimer();
    }
    pumpRequest();
  }

  private void addBody(HttpContent c) {
    boolean last = c instanceof LastHttpContent;
    if (body.add(c)) {
      dropSent();
    }
    if (last) {
      requestComplete = true;
    }
  }

  /** Once the body cannot be replayed, chunks already written upstream need not be kept. */
  private void dropSent() {
    if (attempt != null) {
      body.dropFirst(attempt.sent);
      attempt.sent = 0;
    }
  }

  /** Writes body chunks the current attempt has not had yet, then asks downstream for more if there is room. */
  private void pumpRequest() {
    Attempt a = attempt;
    if (a != null && a.lease != null && !a.done) {
      Channel up = a.lease.channel();
      boolean wrote = false;
      while (a.sent < body.size()) {
        if (body.replayable()) {
          up.write(body.duplicate(a.sent++), up.voidPromise());
        } else {
          up.write(body.removeFirst(), up.voidPromise());
        }
        wrote = true;
      }
      if (wrote) {
        up.flush();
      }
    }
    maybeReadDownstream();
  }

  private void maybeReadDownstream() {
    if (requestComplete || phase == ExchangePhase.DONE) {
      return;
    }
    Attempt a = attempt;
    boolean room = a != null && a.lease != null && !a.done
        ? a.lease.channel().isWritable() && a.sent == body.size()
        : body.hasRoom();
    if (room) {
      down.read();
    }
  }

  private void newAttempt() {
    // The route (or its split) chose the cluster for this request; the cluster's port says how to speak to it.
    UpstreamPool.Protocol protocol = ProtocolTranslation.upstream(cluster.spec().upstream(), cx.protocol());
    if (upgrade && protocol == UpstreamPool.Protocol.HTTP2) {
      reply(LocalReply.of(501, LocalReply.Flag.DPE, "an HTTP/1.1 Upgrade (" + request.headers().get(HttpHeaderNames.UPGRADE)
          + ") cannot reach cluster " + cluster.name() + ": its port speaks HTTP/2 (declared http2 or grpc), which has "
          + "no Upgrade; declare the port http to carry upgrades such as WebSocket"));
      return;
    }
    long now = cx.ticker().getAsLong();
    LoadBalancer.Input in = new LoadBalancer.Input(now, hash, hashed, tried, cluster.nextCount(),
        bound -> ThreadLocalRandom.current().nextLong(bound));
    Host host = cluster.pick(in);
    if (host == null) {
      reply(LocalReply.of(503, LocalReply.Flag.UH, "no healthy upstream: cluster " + cluster.name() + " has no endpoints"));
      return;
    }
    Attempt a = new Attempt(host, protocol);
    attempt = a;
    tried.add(host);
    host.requestStarted();
    // Counted as it starts: an attempt still waiting for a connection or for an answer when the route times out was
    // made (the access log's attempts and upstreamHost say so), not "no attempt".
    telemetry.onAttempt(host, retries);
    RouteTable.RetrySpec retry = rule.action().retry();
    if (retry != null && retry.perTryTimeout() != null) {
      a.perTry = down.channel().eventLoop().schedule(() -> onPerTryTimeout(a), retry.perTryTimeout().toMillis(),
          TimeUnit.MILLISECONDS);
    }
    UpstreamPool.Lease idle = cx.pool().tryAcquireIdle(cluster, host, cx.source(), protocol);
    if (idle != null) {
      onLeased(a, idle);
      return;
    }
    a.pending = cx.pool().acquire(cluster, host, cx.source(), protocol);
    a.pending.addListener(f -> onLease(a, f));
  }

  private void onLease(Attempt a, Future<?> f) {
    if (a != attempt || a.done || phase == ExchangePhase.DONE) {
      if (f.isSuccess()) {
        ((UpstreamPool.Lease) f.getNow()).release(true);
      }
      return;
    }
    if (!f.isSuccess()) {
      UpstreamPool.UpstreamException e = f.cause() instanceof UpstreamPool.UpstreamException x ? x
          : new UpstreamPool.UpstreamException(UpstreamPool.UpstreamException.Kind.CONNECT_FAILURE,
              String.valueOf(f.cause()), f.cause());
      switch (e.kind) {
        case OVERFLOW -> {
          endAttempt(a, false);
          reply(LocalReply.of(503, LocalReply.Flag.UO, e.getMessage()));
        }
        case DENIED -> {
          endAttempt(a, false);
          reply(LocalReply.of(403, LocalReply.Flag.UF, "the destination denied this workload: " + e.getMessage()));
        }
        case CONNECT_FAILURE -> {
          cluster.stats().connectFailures.incrementAndGet();
          attemptFailed(a, AttemptResult.of(AttemptResult.Kind.CONNECT_FAILURE), e.getMessage());
        }
      }
      return;
    }
    onLeased(a, (UpstreamPool.Lease) f.getNow());
  }

  private void onLeased(Attempt a, UpstreamPool.Lease lease) {
    a.lease = lease;
    Channel up = lease.channel();
    lease.listen(new AttemptListener(a));
    up.write(ProtocolTranslation.requestHead(request, cx.protocol(), a.protocol,
        requestComplete && body.receivedBytes() == 0), up.voidPromise());
    pumpRequest();
    up.flush();
  }

  private void onUpstream(Attempt a, Object msg) {
    if (a != attempt || a.done || phase == ExchangePhase.DONE) {
      ReferenceCountUtil.release(msg);
      return;
    }
    if (msg instanceof HttpResponse res && !onResponseHead(a, res)) {
      return;
    }
    if (msg instanceof HttpContent c && !(msg instanceof HttpResponse) && c.decoderResult().isFailure()) {
      // the body broke off (the upstream closed before its Content-Length or last chunk, or sent a bad chunk):
      // what was passed on stays short and the client must see it end, never a padded or complete-looking body
      c.release();
      endAttempt(a, false);
      cluster.record(a.host, AttemptResult.of(AttemptResult.Kind.RESET), cx.ticker().getAsLong());
      abort();
      return;
    }
    if (msg instanceof HttpContent c && !(msg instanceof HttpResponse)) {
      if (a.informational) {
        a.informational = !(c instanceof LastHttpContent);
        c.release();
        return;
      }
      responseBytes += c.content().readableBytes();
      if (c instanceof LastHttpContent last) {
        telemetry.onTrailers(last.trailingHeaders());
      }
      if (c instanceof LastHttpContent && !requestComplete()) {
        lastWrite = down.channel().write(c);
      } else {
        down.channel().write(c, down.channel().voidPromise());
      }
    }
    if (msg instanceof LastHttpContent) {
      onResponseEnd(a);
      return;
    }
    if (!down.channel().isWritable() && !downstreamBlocked) {
      downstreamBlocked = true; // the client reads slower than the upstream sends: pause the upstream
      a.lease.channel().config().setAutoRead(false);
    }
  }

  /** Returns false when the message was consumed here (informational, or a response discarded for a retry). */
  private boolean onResponseHead(Attempt a, HttpResponse res) {
    int code = res.status().code();
    String malformed = malformedHead(res, cx.limits());
    if (malformed != null) {
      ReferenceCountUtil.release(res);
      attemptFailed(a, AttemptResult.of(AttemptResult.Kind.PROTOCOL_ERROR), malformed);
      return false;
    }
    if (code == 101) {
      ReferenceCountUtil.release(res);
      if (upgrade && phase == ExchangePhase.REQUEST) {
        switchProtocols(a, res);
      } else {
        attemptFailed(a, AttemptResult.of(AttemptResult.Kind.RESET), "upstream switched protocols unasked");
      }
      return false;
    }
    if (code >= 100 && code < 200) {
      if (!(res instanceof FullHttpResponse)) {
        a.informational = true;
      }
      ReferenceCountUtil.release(res);
      HttpHeaders headers = res.headers().copy();
      if (a.protocol == UpstreamPool.Protocol.HTTP2) {
        ProtocolTranslation.dropCodecMarkers(headers);
      }
      down.channel().writeAndFlush(new DefaultFullHttpResponse(request.protocolVersion(), res.status(), Unpooled.EMPTY_BUFFER,
          headers, EmptyHttpHeaders.INSTANCE));
      return false;
    }
    cancel(a.perTry);
    String grpc = res.headers().get("grpc-status");
    AttemptResult result = grpc != null ? AttemptResult.grpc(code, parseInt(grpc)) : AttemptResult.response(code);
    telemetry.onResponse(code, grpc != null ? parseInt(grpc) : null);
    cluster.record(a.host, result, cx.ticker().getAsLong());
    if (phase == ExchangePhase.REQUEST) {
      RetryDecision d = decideRetry(result);
      if (d instanceof RetryDecision.Retry r) {
        ReferenceCountUtil.release(res);
        endAttempt(a, false);
        scheduleRetry(r.backoffMillis());
        return false;
      }
    }
    phase = phase.to(ExchangePhase.RESPONSE);
    a.upstreamKeepAlive = HttpUtil.isKeepAlive(res);
    HeaderHygiene.strip(res.headers(), false);
    ProtocolTranslation.responseHead(res, request, a.protocol, cx.protocol());
    keepAliveDown &= !down.draining();
    if (!keepAliveDown) {
      res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    }
    down.channel().write(res, down.channel().voidPromise());
    return true;
  }

  /**
   * Why a response head cannot be passed on, or null: Netty's decoder marks a status line or header section it
   * could not parse (and stands in an invented {@code 999 Unknown} for it) or that is over
   * {@link HttpLimits#maxResponseHeaderBytes} (HTTP/2: {@link LeaseHandler} marks it so), a status outside 100–599 is
   * not HTTP (RFC 9110 §15) even when it parses, and more than {@link HttpLimits#maxResponseHeaders} header fields are
   * refused as Envoy refuses them.
   */
  static String malformedHead(HttpResponse res, HttpLimits limits) {
    if (res.decoderResult().isFailure()) {
      Throwable cause = res.decoderResult().cause();
      if (cause instanceof TooLongHttpHeaderException || cause instanceof Http2Exception.HeaderListSizeException) {
        return "the response header section is larger than " + limits.maxResponseHeaderBytes() / 1024
            + " KiB (--max-response-headers-kb)";
      }
      return cause instanceof Http2Exception ? "HTTP/2 protocol error: " + cause.getMessage()
          : "the response head does not parse";
    }
    int code = res.status().code();
    if (code < 100 || code > 599) {
      return "status " + code + " is outside 100-599";
    }
    // HTTP/2 heads come with Netty's stream-id header, not the upstream's
    int n = res.headers().size() - (res.headers().contains(STREAM_ID) ? 1 : 0);
    if (n > limits.maxResponseHeaders()) {
      return "the response has " + n + " headers, more than " + limits.maxResponseHeaders()
          + " (--max-response-headers)";
    }
    return null;
  }

  /**
   * 101 to an upgrade: the response goes down, then both connections become a byte relay (bytes the
   * upstream sent after its 101 included) and the exchange ends; the upstream connection leaves the
   * pool but keeps its connection slot until it closes.
   */
  private void switchProtocols(Attempt a, HttpResponse res) {
    cancel(a.perTry);
    cluster.record(a.host, AttemptResult.response(101), cx.ticker().getAsLong());
    telemetry.onResponse(101, null);
    phase = phase.to(ExchangePhase.RESPONSE);
    HeaderHygiene.strip(res.headers(), true);
    down.channel().writeAndFlush(new DefaultFullHttpResponse(request.protocolVersion(), res.status(),
        Unpooled.EMPTY_BUFFER, res.headers(), EmptyHttpHeaders.INSTANCE));
    Channel downstream = down.channel();
    Channel up = a.lease.channel();
    if (up instanceof Http2StreamChannel) {
      down.upgrade(new SocketToStreamHandler(up));
      a.lease.detach(new StreamToSocketHandler(downstream));
    } else {
      down.upgrade(new SocketRelayHandler(up));
      a.lease.detach(new SocketRelayHandler(downstream));
    }
    cleanUp();
    log.debug("[{}] {} switched protocols to {} via {}", downstream.id(), this, res.headers().get(HttpHeaderNames.UPGRADE),
        a.host.key());
    downstream.read();
    up.read();
  }

  private void onResponseEnd(Attempt a) {
    down.channel().flush();
    boolean reusable = a.protocol == UpstreamPool.Protocol.HTTP2
        || a.upstreamKeepAlive && requestComplete && a.sent == body.size();
    endAttempt(a, reusable);
    finish(keepAliveDown && (requestComplete || bodyless));
  }

  private void onUpstreamClosed(Attempt a) {
    if (a != attempt || a.done || phase == ExchangePhase.DONE) {
      return;
    }
    if (phase == ExchangePhase.RESPONSE) {
      endAttempt(a, false);
      cluster.record(a.host, AttemptResult.of(AttemptResult.Kind.RESET), cx.ticker().getAsLong());
      abort();
      return;
    }
    if (a.lease != null && a.lease.reused() && !staleRetried && body.replayable()) {
      // A kept-alive connection the server closed as we reused it: not the endpoint's fault; once, try afresh.
      staleRetried = true;
      endAttempt(a, false);
      tried.remove(a.host);
      newAttempt();
      return;
    }
    attemptFailed(a, AttemptResult.of(AttemptResult.Kind.RESET), "upstream closed the connection before response headers");
  }

  private void onPerTryTimeout(Attempt a) {
    if (a != attempt || a.done || phase != ExchangePhase.REQUEST) {
      return;
    }
    cluster.stats().timeouts.incrementAndGet();
    attemptFailed(a, AttemptResult.of(AttemptResult.Kind.PER_TRY_TIMEOUT), "per-try timeout");
  }

  private void onRouteTimeout() {
    if (phase == ExchangePhase.DONE) {
      return;
    }
    cluster.stats().timeouts.incrementAndGet();
    if (attempt != null && !attempt.done) {
      endAttempt(attempt, false);
    }
    if (phase == ExchangePhase.RESPONSE) {
      abort();
    } else {
      reply(LocalReply.of(504, LocalReply.Flag.UT, "upstream request timeout"));
    }
  }

  private void attemptFailed(Attempt a, AttemptResult result, String detail) {
    endAttempt(a, false);
    cluster.record(a.host, result, cx.ticker().getAsLong());
    RetryDecision d = decideRetry(result);
    if (d instanceof RetryDecision.Retry r) {
      scheduleRetry(r.backoffMillis());
      return;
    }
    reply(switch (result.kind()) {
      case PER_TRY_TIMEOUT -> LocalReply.of(504, LocalReply.Flag.UT, "upstream request timeout");
      case PROTOCOL_ERROR -> LocalReply.of(502, LocalReply.Flag.UPE,
          "upstream sent a malformed response: " + detail);
      case CONNECT_FAILURE -> LocalReply.of(503, LocalReply.Flag.UF,
          "upstream connect error or disconnect/reset before headers. reset reason: connection failure: " + detail);
      default -> LocalReply.of(503, LocalReply.Flag.UC,
          "upstream connect error or disconnect/reset before headers. reset reason: connection termination");
    });
  }

  private RetryDecision decideRetry(AttemptResult result) {
    if (holdsRetry) {
      cluster.breaker().release(Resource.RETRIES);
      holdsRetry = false;
    }
    long now = cx.ticker().getAsLong();
    long left = deadline == Long.MAX_VALUE ? Long.MAX_VALUE : Math.max(0, (deadline - now) / 1_000_000);
    RetryDecision d = RetryDecision.decide(rule.action().retry(), result, retries, body.replayable(), true,
        bound -> ThreadLocalRandom.current().nextLong(bound), left);
    if (d instanceof RetryDecision.Retry) {
      if (!cluster.breaker().tryAcquire(Resource.RETRIES)) {
        cluster.stats().retriesOverflowed.incrementAndGet();
        return new RetryDecision.GiveUp(RetryDecision.Reason.BUDGET_EXHAUSTED);
      }
      holdsRetry = true;
      retries++;
      cluster.stats().retries.incrementAndGet();
    }
    return d;
  }

  private void scheduleRetry(long backoffMillis) {
    attempt = null;
    if (backoffMillis <= 0) {
      newAttempt();
      return;
    }
    retryTimer = down.channel().eventLoop().schedule(() -> {
      retryTimer = null;
      if (phase != ExchangePhase.DONE) {
        newAttempt();
        pumpRequest();
      }
    }, backoffMillis, TimeUnit.MILLISECONDS);
  }

  private void startRouteTimer() {
    if (routeTimer != null || phase == ExchangePhase.DONE || rule == null || rule.action().timeout() == null) {
      return;
    }
    long millis = rule.action().timeout().toMillis();
    if (millis <= 0) {
      return;
    }
    deadline = cx.ticker().getAsLong() + millis * 1_000_000;
    routeTimer = down.channel().eventLoop().schedule(this::onRouteTimeout, millis, TimeUnit.MILLISECONDS);
  }

  private void endAttempt(Attempt a, boolean reusable) {
    if (a.done) {
      return;
    }
    a.done = true;
    cancel(a.perTry);
    if (a.pending != null && !a.pending.isDone()) {
      a.pending.cancel(false);
    }
    if (a.lease != null) {
      a.lease.release(reusable);
    }
    a.host.requestEnded();
  }

  /** Answers the request from the proxy itself (or resets, if the response has begun). */
  private void reply(LocalReply r) {
    if (phase == ExchangePhase.DONE) {
      return;
    }
    if (phase == ExchangePhase.RESPONSE) {
      abort();
      return;
    }
    phase = phase.to(ExchangePhase.RESPONSE);
    telemetry.onLocalReply(r.status(), r.flag().name());
    log.debug("local reply {} {} to {} {}: {}", r.status(), r.flag(), request.method(), request.uri(), r.message());
    FullHttpResponse res = r.toResponse(request, down.channel().alloc());
    keepAliveDown &= !down.draining();
    boolean keepAlive = keepAliveDown && (requestComplete || bodyless);
    if (!keepAlive) {
      res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    }
    ChannelFuture written = down.channel().writeAndFlush(res);
    if (!requestComplete()) {
      lastWrite = written;
    }
    finish(keepAlive);
  }

  private void abort() {
    if (phase == ExchangePhase.DONE) {
      return;
    }
    if (telemetry != null) {
      telemetry.onError(phase == ExchangePhase.RESPONSE ? "response_reset" : "reset");
    }
    cleanUp();
    down.abort();
  }

  private void finish(boolean keepAlive) {
    if (phase == ExchangePhase.DONE) {
      return;
    }
    cleanUp();
    down.done(keepAlive, lastWrite);
  }

  /**
   * The client kept the proxy waiting for more of its request body for {@link HttpLimits#requestBodyTimeout}: 408
   * ({@code DPE}, as for slow headers), after which the downstream ends since the rest of the body may still come; once
   * the response has begun, the downstream just ends. The upstream attempt ends either way (it got a partial body).
   */
  void onRequestBodyTimeout() {
    if (phase == ExchangePhase.DONE || requestComplete()) {
      return;
    }
    reply(LocalReply.of(408, LocalReply.Flag.DPE, "request body not received: no bytes for "
        + cx.limits().requestBodyTimeout().toMillis() + " ms (--request-body-timeout)"));
  }

  /** The downstream went away (connection closed or stream reset): stop everything quietly. */
  void onDownstreamClosed() {
    if (phase != ExchangePhase.DONE) {
      if (telemetry != null) {
        telemetry.onError("downstream_closed");
      }
      cleanUp();
    }
  }

  void onDownstreamWritable() {
    Attempt a = attempt;
    if (downstreamBlocked && a != null && a.lease != null && !a.done && down.channel().isWritable()) {
      downstreamBlocked = false;
      a.lease.channel().config().setAutoRead(true);
    }
  }

  private void cleanUp() {
    phase = phase.to(ExchangePhase.DONE);
    if (telemetry != null) {
      telemetry.end(cx.source(), cx.sourceAddress(), body.receivedBytes(), responseBytes);
    }
    cancel(routeTimer);
    cancel(retryTimer);
    if (attempt != null && !attempt.done) {
      endAttempt(attempt, false);
    }
    if (holdsRetry) {
      cluster.breaker().release(Resource.RETRIES);
      holdsRetry = false;
    }
    if (holdsRequest) {
      cluster.breaker().release(Resource.REQUESTS);
      holdsRequest = false;
    }
    body.release();
  }

  private static void cancel(ScheduledFuture<?> f) {
    if (f != null) {
      f.cancel(false);
    }
  }

  private static int parseInt(String s) {
    try {
      return Integer.parseInt(s.trim());
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  /** Receives the leased upstream channel's events for one attempt, until the lease is released. */
  private final class AttemptListener implements UpstreamPool.UpstreamListener {
    private final Attempt a;

    AttemptListener(Attempt a) {
      this.a = a;
    }

    @Override
    public void onMessage(Object msg) {
      onUpstream(a, msg);
    }

    @Override
    public void onReadComplete() {
      if (a == attempt && phase == ExchangePhase.RESPONSE) {
        down.channel().flush();
      }
    }

    @Override
    public void onWritable() {
      if (a == attempt) {
        maybeReadDownstream();
      }
    }

    @Override
    public void onClosed() {
      onUpstreamClosed(a);
    }
  }

  @Override
  public String toString() {
    return request == null ? "exchange" : request.method() + " " + request.uri().toLowerCase(Locale.ROOT);
  }
}
