package dev.trellis.proxy.http;

import static java.util.Objects.requireNonNull;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.proxy.cluster.ClusterRuntime;
import dev.trellis.proxy.cluster.Host;
import dev.trellis.proxy.resilience.CircuitBreaker.Resource;
import dev.trellis.proxy.state.LocalWorkload;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Upstream HTTP connections of one event loop ({@link UpstreamConnection}: {@link Http1Connection},
 * {@link Http2Connection}), pooled per (cluster, endpoint, source identity, protocol); an {@link UpstreamDialer}
 * opens the byte streams they run over. An HTTP/1.1 connection is leased to one request at a time and kept alive between them;
 * an HTTP/2 connection carries up to {@link #MAX_H2_STREAMS} concurrent requests (or fewer, if the
 * server says so). A connection is a plain TCP socket to an endpoint outside the mesh, or an HBONE
 * stream to one inside it; either way the codecs see bytes.
 *
 * <p>The cluster's circuit breaker bounds connections; a request that finds none free waits in a
 * bounded pending queue ({@code max_pending_requests}) for at most the connect timeout, and overflow
 * fails at once. Confined to its event loop: no locks.
 */
public final class UpstreamPool {

  private static final Logger log = LoggerFactory.getLogger(UpstreamPool.class);

  static final int MAX_H2_STREAMS = 100;
  static final long IDLE_MILLIS = 30_000;
  static final long PENDING_RECHECK_MILLIS = 20;
  /** Request header sections from downstream (431 beyond); response heads have {@link HttpLimits}' limits. */
  static final int MAX_HEADER_BYTES = 64 * 1024;

  public enum Protocol {
    HTTP1,
    HTTP2
  }

  /** Receives what arrives on a leased channel, on its event loop. */
  interface UpstreamListener {
    void onMessage(Object msg);

    void onReadComplete();

    /** The channel became writable again. */
    void onWritable();

    void onClosed();
  }

  /** A request channel leased to one attempt: HTTP objects written to it go upstream; responses come back. */
  interface Lease {
    Channel channel();

    /** Where responses go until the lease is released. */
    void listen(UpstreamListener listener);

    /** Whether the connection served an earlier request (a stale keep-alive connection may fail first). */
    boolean reused();

    /** Returns the channel: kept for the next request if {@code reusable}, else closed. Idempotent. */
    void release(boolean reusable);

    /**
     * Takes the connection out of the pool for good after a protocol switch (101): the HTTP codec
     * leaves, {@code relay} takes the bytes (including any that came with the 101), auto-read is off.
     * It still holds its connection slot until it closes. HTTP/1.1 only; a later release does nothing.
     */
    Channel detach(ChannelHandler relay);
  }

  /** Why no lease: overflow (fast local 503), connect failure (retriable), or the peer refused us. */
  public static final class UpstreamException extends RuntimeException {
    /** What went wrong. */
    public enum Kind {
      OVERFLOW,
      CONNECT_FAILURE,
      DENIED
    }

    final Kind kind;

    public UpstreamException(Kind kind, String message, Throwable cause) {
      super(message, cause, false, false);
      this.kind = kind;
    }
  }

  /** Which requests a connection may serve. */
  record Key(String cluster, String host, SpiffeId source, Protocol protocol) {}

  private final EventLoop loop;
  private final UpstreamDialer dialer;
  private final int connectTimeoutMillis;
  private final LongSupplier ticker;
  private final HttpLimits limits;
  private final Map<Key, ArrayDeque<Http1Connection>> idleH1 = new HashMap<>();
  private final Map<Key, List<Http2Connection>> h2 = new HashMap<>();
  private final ArrayDeque<Waiter> waiters = new ArrayDeque<>();
  private ScheduledFuture<?> recheck;
  private ScheduledFuture<?> sweep;
  private int open;

  /**
   * @param dialer opens the byte streams the connections run over, on {@code loop}
   * @param connectTimeoutMillis how long a request waits for a connection slot to free up
   */
  public UpstreamPool(EventLoop loop, UpstreamDialer dialer, int connectTimeoutMillis) {
    this(loop, dialer, connectTimeoutMillis, HttpLimits.DEFAULTS);
  }

  /** @param limits how large a response head its connections accept */
  public UpstreamPool(EventLoop loop, UpstreamDialer dialer, int connectTimeoutMillis, HttpLimits limits) {
    this(loop, dialer, connectTimeoutMillis, System::nanoTime, limits);
  }

  /** @param ticker nanoseconds, for how long a connection has been idle */
  UpstreamPool(EventLoop loop, UpstreamDialer dialer, int connectTimeoutMillis, LongSupplier ticker) {
    this(loop, dialer, connectTimeoutMillis, ticker, HttpLimits.DEFAULTS);
  }

  UpstreamPool(EventLoop loop, UpstreamDialer dialer, int connectTimeoutMillis, LongSupplier ticker,
      HttpLimits limits) {
    this.loop = requireNonNull(loop, "loop");
    this.dialer = requireNonNull(dialer, "dialer");
    this.connectTimeoutMillis = connectTimeoutMillis;
    this.ticker = requireNonNull(ticker, "ticker");
    this.limits = requireNonNull(limits, "limits");
  }

  EventLoop loop() {
    return loop;
  }

  UpstreamDialer dialer() {
    return dialer;
  }

  /** Connections this pool holds open (idle or busy). */
  public int connections() {
    return open;
  }

  /**
   * An idle HTTP/1.1 connection to {@code host} leased at once, or null (then {@link #acquire}): the
   * common keep-alive case without a promise and its listener. Must be called on this pool's event loop.
   */
  Lease tryAcquireIdle(ClusterRuntime cluster, Host host, LocalWorkload source, Protocol protocol) {
    if (protocol != Protocol.HTTP1) {
      return null;
    }
    ArrayDeque<Http1Connection> idle = idleH1.get(new Key(cluster.name(), host.key(), source.identity(), protocol));
    Http1Connection c;
    while (idle != null && (c = idle.pollFirst()) != null) {
      if (c.channel().isActive()) {
        return c.newLease(true);
      }
    }
    return null;
  }

  /** Leases a request channel to {@code host}. Must be called on this pool's event loop. */
  Future<Lease> acquire(ClusterRuntime cluster, Host host, LocalWorkload source, Protocol protocol) {
    Key key = new Key(cluster.name(), host.key(), source.identity(), protocol);
    Promise<Lease> p = loop.newPromise();
    if (tryServe(key, cluster, host, source, p)) {
      return p;
    }
    if (!cluster.breaker().tryAcquire(Resource.PENDING_REQUESTS)) {
      return p.setFailure(new UpstreamException(UpstreamException.Kind.OVERFLOW, "upstream overflow: cluster "
          + cluster.name() + " is at max_connections " + cluster.breaker().limit(Resource.CONNECTIONS)
          + " and max_pending_requests " + cluster.breaker().limit(Resource.PENDING_REQUESTS), null));
    }
    Waiter w = new Waiter(key, cluster, host, source, p);
    w.timeout = loop.schedule(() -> {
      if (waiters.remove(w)) {
        cluster.breaker().release(Resource.PENDING_REQUESTS);
        p.tryFailure(new UpstreamException(UpstreamException.Kind.OVERFLOW, "upstream overflow: no connection to "
            + cluster.name() + " freed up within " + connectTimeoutMillis + " ms", null));
      }
    }, connectTimeoutMillis, TimeUnit.MILLISECONDS);
    p.addListener(f -> {
      if (f.isCancelled() && waiters.remove(w)) {
        w.timeout.cancel(false);
        cluster.breaker().release(Resource.PENDING_REQUESTS);
      }
    });
    waiters.add(w);
    scheduleRecheck();
    return p;
  }

  private boolean tryServe(Key key, ClusterRuntime cluster, Host host, LocalWorkload source, Promise<Lease> p) {
    if (key.protocol() == Protocol.HTTP1) {
      ArrayDeque<Http1Connection> idle = idleH1.get(key);
      Http1Connection c;
      while (idle != null && (c = idle.pollFirst()) != null) {
        if (c.channel().isActive()) {
          c.lease(p, true);
          return true;
        }
      }
      if (cluster.breaker().tryAcquire(Resource.CONNECTIONS)) {
        new Http1Connection(this, key, cluster).connect(host, source, p);
        return true;
      }
      closeIdleOf(cluster.name());
      return false;
    }
    for (Http2Connection c : h2.getOrDefault(key, List.of())) {
      if (c.hasRoom()) {
        c.openStream(p);
        return true;
      }
    }
    if (cluster.breaker().tryAcquire(Resource.CONNECTIONS)) {
      Http2Connection c = new Http2Connection(this, key, cluster);
      h2.computeIfAbsent(key, k -> new ArrayList<>()).add(c);
      c.connect(host, source, p);
      return true;
    }
    closeIdleOf(cluster.name());
    return false;
  }

  /** Frees a connection slot held by an idle connection of the cluster, for a request that needs another host. */
  private void closeIdleOf(String cluster) {
    for (Map.Entry<Key, ArrayDeque<Http1Connection>> e : idleH1.entrySet()) {
      if (e.getKey().cluster().equals(cluster) && !e.getValue().isEmpty()) {
        e.getValue().pollLast().close();
        return;
      }
    }
  }

  /** Gives waiting requests what has freed up, oldest first. */
  void serveWaiters() {
    Iterator<Waiter> it = waiters.iterator();
    while (it.hasNext()) {
      Waiter w = it.next();
      if (w.promise.isDone()) {
        it.remove();
        continue;
      }
      Promise<Lease> relay = loop.newPromise();
      if (tryServe(w.key, w.cluster, w.host, w.source, relay)) {
        it.remove();
        w.timeout.cancel(false);
        w.cluster.breaker().release(Resource.PENDING_REQUESTS);
        relay.addListener(f -> {
          if (f.isSuccess()) {
            Lease lease = relay.getNow();
            if (!w.promise.trySuccess(lease)) {
              lease.release(true);
            }
          } else {
            w.promise.tryFailure(f.cause());
          }
        });
      }
    }
  }

  /**
   * Takes an already connected socket to {@code host} into the pool as an idle connection speaking
   * {@code protocol} (inbound inspection connects to the workload before answering HBONE's 200).
   * Closed instead if the cluster has no connection slot left.
   */
  public void adopt(ClusterRuntime cluster, Host host, LocalWorkload source, Protocol protocol, Channel ch) {
    Key key = new Key(cluster.name(), host.key(), source.identity(), protocol);
    if (!cluster.breaker().tryAcquire(Resource.CONNECTIONS)) {
      ch.close();
      return;
    }
    if (protocol == Protocol.HTTP1) {
      Http1Connection c = new Http1Connection(this, key, cluster);
      c.attach(ch);
      park(c);
      return;
    }
    Http2Connection c = new Http2Connection(this, key, cluster);
    h2.computeIfAbsent(key, k -> new ArrayList<>()).add(c);
    c.attach(ch);
  }

  /**
   * Closes HTTP/1.1 connections idle for longer than {@link #IDLE_MILLIS}. One timer per pool, running
   * while connections idle, instead of a timer per parked connection (a schedule and a cancel per request).
   */
  private void scheduleSweep() {
    if (sweep != null) {
      return;
    }
    sweep = loop.schedule(() -> {
      sweep = null;
      long now = ticker.getAsLong();
      boolean any = false;
      for (ArrayDeque<Http1Connection> idle : idleH1.values()) {
        Http1Connection oldest;
        while ((oldest = idle.peekLast()) != null && now - oldest.idleSince >= IDLE_MILLIS * 1_000_000) {
          idle.pollLast().close(); // most recently used first: the oldest are at the end
        }
        any |= !idle.isEmpty();
      }
      if (any) {
        scheduleSweep();
      }
    }, IDLE_MILLIS / 4, TimeUnit.MILLISECONDS);
  }

  /** Slots freed on other event loops do not wake this one: poll while requests wait. */
  private void scheduleRecheck() {
    if (recheck == null && !waiters.isEmpty()) {
      recheck = loop.schedule(() -> {
        recheck = null;
        serveWaiters();
        scheduleRecheck();
      }, PENDING_RECHECK_MILLIS, TimeUnit.MILLISECONDS);
    }
  }

  /** A connection's byte channel is open: it holds a slot until it closes, then {@code onClose} runs. */
  void opened(Channel ch, ClusterRuntime cluster, Runnable onClose) {
    open++;
    ch.closeFuture().addListener(x -> {
      open--;
      cluster.breaker().release(Resource.CONNECTIONS);
      onClose.run();
      serveWaiters();
    });
  }

  /** A connection that could not open gives its slot back. */
  void connectFailed(ClusterRuntime cluster) {
    cluster.breaker().release(Resource.CONNECTIONS);
  }

  /** Back to the pool: a waiter of the same key takes it at once, else it idles (and notices a server close). */
  void park(Http1Connection c) {
    ClusterRuntime cluster = c.cluster();
    for (Iterator<Waiter> it = waiters.iterator(); it.hasNext(); ) {
      Waiter w = it.next();
      if (w.key.equals(c.key()) && !w.promise.isDone()) {
        it.remove();
        w.timeout.cancel(false);
        cluster.breaker().release(Resource.PENDING_REQUESTS);
        c.lease(w.promise, true);
        return;
      }
    }
    if (cluster.breaker().used(Resource.PENDING_REQUESTS) > 0) {
      // Requests of this cluster wait on another event loop: free the connection slot for them.
      c.close();
      return;
    }
    idleH1.computeIfAbsent(c.key(), k -> new ArrayDeque<>()).addFirst(c);
    c.idleSince = ticker.getAsLong();
    scheduleSweep();
  }

  /** A closed HTTP/1.1 connection leaves the idle list. */
  void forgetIdle(Http1Connection c) {
    ArrayDeque<Http1Connection> idle = idleH1.get(c.key());
    if (idle != null) {
      idle.remove(c);
    }
  }

  /** A closed (or never opened) HTTP/2 connection leaves the pool. */
  void forget(Http2Connection c) {
    List<Http2Connection> list = h2.get(c.key());
    if (list != null) {
      list.remove(c);
      if (list.isEmpty()) {
        h2.remove(c.key());
      }
    }
  }

  /** The response decoder of an HTTP/1.1 connection: a larger header section fails the head (502 UPE). */
  HttpDecoderConfig decoderConfig() {
    return new HttpDecoderConfig().setMaxHeaderSize(limits.maxResponseHeaderBytes()).setMaxInitialLineLength(16 * 1024);
  }

  /** The header list size an HTTP/2 connection advertises and enforces on responses. */
  int maxResponseHeaderBytes() {
    return limits.maxResponseHeaderBytes();
  }

  private static final class Waiter {
    final Key key;
    final ClusterRuntime cluster;
    final Host host;
    final LocalWorkload source;
    final Promise<Lease> promise;
    ScheduledFuture<?> timeout;

    Waiter(Key key, ClusterRuntime cluster, Host host, LocalWorkload source, Promise<Lease> promise) {
      this.key = key;
      this.cluster = cluster;
      this.host = host;
      this.source = source;
      this.promise = promise;
    }
  }

  /** Closes every connection; pending requests fail. */
  public void close() {
    for (Waiter w : waiters) {
      w.timeout.cancel(false);
      w.cluster.breaker().release(Resource.PENDING_REQUESTS);
      w.promise.tryFailure(new UpstreamException(UpstreamException.Kind.CONNECT_FAILURE, "proxy shutting down", null));
    }
    waiters.clear();
    if (sweep != null) {
      sweep.cancel(false);
    }
    // Copies: closing runs each connection's close listener at once, and it removes the connection from these lists.
    idleH1.values().stream().flatMap(Collection::stream).toList().forEach(UpstreamConnection::close);
    h2.values().stream().flatMap(Collection::stream).toList().forEach(UpstreamConnection::close);
    log.debug("upstream pool on {} closed", loop);
  }
}
