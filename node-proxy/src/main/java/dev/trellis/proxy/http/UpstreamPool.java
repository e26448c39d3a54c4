package dev.trellis.proxy.http;

import static java.util.Objects.requireNonNull;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.proxy.cluster.ClusterRuntime;
import dev.trellis.proxy.cluster.Host;
import dev.trellis.proxy.resilience.CircuitBreaker;
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
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
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
 * <p>The cluster's circuit breaker bounds connections across all event loops; a request that finds none free waits in
 * a bounded pending queue ({@code max_pending_requests}) for at most the connect timeout, and overflow fails at once.
 * Confined to its event loop: no locks.
 *
 * <p><b>Across event loops.</b> Each loop has its own pool, but the breaker's slots are the cluster's. A pool joins the
 * breaker as a {@link CircuitBreaker.SlotHolder} (a {@code Share}) while it holds connections of that cluster or
 * requests wait for one, so that:
 * <ul>
 *   <li>a request that cannot get a slot, once queued, asks the other loops one after the other to close one idle
 *       connection of the cluster (HTTP/1.1 parked, or HTTP/2 without streams): {@code otherLoop.execute(..)}, never
 *       touching another loop's state. The closed connection's slot is released;
 *   <li>a released slot wakes every loop with waiting requests of that cluster ({@code execute(serveWaiters)}, at most
 *       one queued wake-up per loop); whichever loop takes the slot first opens a connection, the others keep waiting;
 *   <li>a connection released or a stream finished while requests of its cluster are pending on any loop is closed
 *       instead of kept idle, so a busy connection frees its slot for them as soon as its request ends.
 * </ul>
 * A request re-checking for a slot counts no overflow: only a refused request does ({@code max_pending_requests} full:
 * a pending-requests overflow; no slot within the connect timeout: a connections overflow).
 */
public final class UpstreamPool {

  private static final Logger log = LoggerFactory.getLogger(UpstreamPool.class);

  static final int MAX_H2_STREAMS = 100;
  static final long IDLE_MILLIS = 30_000;
  /** Request header sections from downstream (431 beyond); response heads have {@link HttpLimits}' limits. */
  static final int MAX_HEADER_BYTES = 64 * 1024;
  /**
   * The largest piece of an HTTP/1.1 body the decoders hand on as one message (Netty's default: 8 KiB). A piece is a
   * slice of what one read brought, never more: a larger bound buffers nothing, it only spares a message, a trip
   * through the exchange and an encoder write per 8 KiB of a large body.
   */
  static final int MAX_BODY_PIECE = 64 * 1024;

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
  private final Map<ClusterRuntime, Share> shares = new HashMap<>();
  private ScheduledFuture<?> sweep;
  private DownstreamSweep downstreams;
  private int open;
  private boolean serving;
  private boolean serveAgain;

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

  /**
   * The deadlines of this event loop's downstream HTTP/1.1 connections, one sweep for all of them (with this pool's
   * ticker): the pool is the HTTP engine's per-event-loop state.
   */
  DownstreamSweep downstreams() {
    if (downstreams == null) {
      downstreams = new DownstreamSweep(loop, ticker);
    }
    return downstreams;
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
      if (c.channel().isActive() && !c.peerDraining()) {
        return c.newLease(true);
      }
      c.close();
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
    Share share = share(cluster);
    Waiter w = new Waiter(key, cluster, host, source, p, share);
    w.timeout = loop.schedule(() -> {
      if (waiters.remove(w)) {
        unqueued(w);
        cluster.breaker().countOverflow(Resource.CONNECTIONS);
        p.tryFailure(new UpstreamException(UpstreamException.Kind.OVERFLOW, "upstream overflow: no connection to "
            + cluster.name() + " freed up within " + connectTimeoutMillis + " ms (max_connections "
            + cluster.breaker().limit(Resource.CONNECTIONS) + ", all busy)", null));
      }
    }, connectTimeoutMillis, TimeUnit.MILLISECONDS);
    p.addListener(f -> {
      if (f.isCancelled() && waiters.remove(w)) {
        unqueued(w);
      }
    });
    waiters.add(w);
    share.waiting.incrementAndGet();
    // A slot released after tryServe looked and before this waiter counted could not wake it: look once more.
    tryServeWaiter(w);
    if (w.queued) {
      cluster.breaker().reclaimIdle(share);
    }
    return p;
  }

  /** A waiter left the queue (served, timed out, cancelled or failed): its pending slot and its count go. Idempotent. */
  private void unqueued(Waiter w) {
    if (!w.queued) {
      return;
    }
    w.queued = false;
    w.timeout.cancel(false);
    w.share.waiting.decrementAndGet();
    w.cluster.breaker().release(Resource.PENDING_REQUESTS);
    leaveIfUnused(w.share);
  }

  private boolean tryServe(Key key, ClusterRuntime cluster, Host host, LocalWorkload source, Promise<Lease> p) {
    if (key.protocol() == Protocol.HTTP1) {
      ArrayDeque<Http1Connection> idle = idleH1.get(key);
      Http1Connection c;
      while (idle != null && (c = idle.pollFirst()) != null) {
        if (c.channel().isActive() && !c.peerDraining()) {
          c.lease(p, true);
          return true;
        }
        c.close();
      }
      if (cluster.breaker().tryTake(Resource.CONNECTIONS)) {
        new Http1Connection(this, key, cluster).connect(host, source, p);
        return true;
      }
      closeOneIdle(cluster.name());
      return false;
    }
    for (Http2Connection c : h2.getOrDefault(key, List.of())) {
      if (c.hasRoom()) {
        c.openStream(p);
        return true;
      }
    }
    if (cluster.breaker().tryTake(Resource.CONNECTIONS)) {
      Http2Connection c = new Http2Connection(this, key, cluster);
      h2.computeIfAbsent(key, k -> new ArrayList<>()).add(c);
      c.connect(host, source, p);
      return true;
    }
    closeOneIdle(cluster.name());
    return false;
  }

  /**
   * Frees a connection slot held by an idle connection of the cluster (HTTP/1.1 idle the longest, or HTTP/2 without
   * streams), for a request here that needs another host or one on another loop; false if there is none.
   */
  private boolean closeOneIdle(String cluster) {
    for (Map.Entry<Key, ArrayDeque<Http1Connection>> e : idleH1.entrySet()) {
      if (e.getKey().cluster().equals(cluster)) {
        Http1Connection c;
        while ((c = e.getValue().pollLast()) != null) {
          if (c.channel().isActive()) {
            c.close();
            return true;
          }
        }
      }
    }
    for (Map.Entry<Key, List<Http2Connection>> e : h2.entrySet()) {
      if (e.getKey().cluster().equals(cluster)) {
        for (Http2Connection c : e.getValue()) {
          if (c.idle()) {
            c.close(); // its close listener leaves the list: return before iterating on
            return true;
          }
        }
      }
    }
    return false;
  }

  /**
   * Gives waiting requests what has freed up, oldest first. Re-entrant calls (closing an idle connection releases a
   * slot, which serves waiters) make the running pass go round once more instead of nesting.
   */
  void serveWaiters() {
    if (serving) {
      serveAgain = true;
      return;
    }
    serving = true;
    try {
      do {
        serveAgain = false;
        serveWaitersOnce();
      } while (serveAgain);
    } finally {
      serving = false;
    }
  }

  /** One pass over a copy of the queue: serving a request runs its listeners, which may touch the queue. */
  private void serveWaitersOnce() {
    for (Waiter w : List.copyOf(waiters)) {
      tryServeWaiter(w);
    }
  }

  /** Serves {@code w} if a connection or a slot is free for it now; it leaves the queue then. */
  private void tryServeWaiter(Waiter w) {
    if (!w.queued) {
      return;
    }
    if (w.promise.isDone()) {
      waiters.remove(w);
      unqueued(w);
      return;
    }
    Promise<Lease> relay = loop.newPromise();
    if (tryServe(w.key, w.cluster, w.host, w.source, relay)) {
      waiters.remove(w);
      unqueued(w);
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

  /**
   * Takes an already connected socket to {@code host} into the pool as an idle connection speaking
   * {@code protocol} (inbound inspection connects to the workload before answering HBONE's 200).
   * Closed instead if the cluster has no connection slot left.
   *
   * <p>An HTTP/1.1 socket leaves the pool with {@code owner}, the downstream connection (HBONE stream) it was opened
   * for: closed when {@code owner} closes if idle, else as soon as its request is done. Every new HBONE stream brings
   * a socket of its own, so a pool that kept them all for the idle timeout held hundreds of workload connections at
   * a few hundred streams a second (more than some servers keep: the JDK's HttpServer closes any beyond 200 idle).
   * {@code owner} must be on this pool's event loop.
   */
  public void adopt(ClusterRuntime cluster, Host host, LocalWorkload source, Protocol protocol, Channel ch,
      Channel owner) {
    Key key = new Key(cluster.name(), host.key(), source.identity(), protocol);
    if (!cluster.breaker().tryAcquire(Resource.CONNECTIONS)) {
      ch.close();
      return;
    }
    if (protocol == Protocol.HTTP1) {
      Http1Connection c = new Http1Connection(this, key, cluster);
      c.attach(ch);
      park(c);
      owner.closeFuture().addListener(f -> retire(c));
      return;
    }
    Http2Connection c = new Http2Connection(this, key, cluster);
    h2.computeIfAbsent(key, k -> new ArrayList<>()).add(c);
    c.attach(ch);
  }

  /** {@code c} carries no stream from now: the sweep closes it if it stays so (or once its HBONE peer drains). */
  void idle(Http2Connection c) {
    c.idleSince = ticker.getAsLong();
    scheduleSweep();
  }

  /**
   * Closes connections idle for longer than {@link #IDLE_MILLIS}, and idle ones riding an HBONE stream whose
   * connection got GOAWAY (else a draining destination waits for them until its drain timeout). One timer per pool,
   * running while connections idle, instead of a timer per parked connection (a schedule and a cancel per request).
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
        idle.removeIf(c -> {
          if (c.peerDraining()) {
            c.close();
            return true;
          }
          return false;
        });
        Http1Connection oldest;
        while ((oldest = idle.peekLast()) != null && now - oldest.idleSince >= IDLE_MILLIS * 1_000_000) {
          idle.pollLast().close(); // most recently used first: the oldest are at the end
        }
        any |= !idle.isEmpty();
      }
      // A copy: closing runs the connection's close listener at once, which removes it from its list.
      for (Http2Connection c : h2.values().stream().flatMap(Collection::stream).toList()) {
        if (c.idle() && c.channel() != null) {
          if (c.draining() || now - c.idleSince >= IDLE_MILLIS * 1_000_000) {
            c.close();
          } else {
            any = true;
          }
        }
      }
      if (any) {
        scheduleSweep();
      }
    }, IDLE_MILLIS / 4, TimeUnit.MILLISECONDS);
  }

  /**
   * A connection's byte channel is open: it holds a slot until it closes, then {@code onClose} runs and the slot is
   * released (which wakes waiting requests on every loop).
   */
  void opened(Channel ch, ClusterRuntime cluster, Runnable onClose) {
    open++;
    Share share = share(cluster);
    share.connections.incrementAndGet();
    ch.closeFuture().addListener(x -> {
      open--;
      share.connections.decrementAndGet();
      onClose.run();
      cluster.breaker().release(Resource.CONNECTIONS);
      serveWaiters();
      leaveIfUnused(share);
    });
  }

  /** This pool's share of {@code cluster}'s slots, joined to its breaker while it holds or waits for connections. */
  private Share share(ClusterRuntime cluster) {
    return shares.computeIfAbsent(cluster, c -> {
      Share s = new Share(c);
      c.breaker().join(s);
      return s;
    });
  }

  private void leaveIfUnused(Share s) {
    if (s.connections.get() == 0 && s.waiting.get() == 0 && shares.remove(s.cluster, s)) {
      s.cluster.breaker().leave(s);
    }
  }

  /** A connection that could not open gives its slot back. */
  void connectFailed(ClusterRuntime cluster) {
    cluster.breaker().release(Resource.CONNECTIONS);
  }

  /** {@code c}'s owner is gone: closed now if it idles, else when its request is done ({@link #park}). */
  private void retire(Http1Connection c) {
    c.retired = true;
    ArrayDeque<Http1Connection> idle = idleH1.get(c.key());
    if (idle != null && idle.remove(c)) {
      c.close();
    }
  }

  /** Back to the pool: a waiter of the same key takes it at once, else it idles (and notices a server close). */
  void park(Http1Connection c) {
    if (c.retired) {
      c.close(); // adopted for a downstream connection that has ended
      return;
    }
    if (c.peerDraining()) {
      c.close(); // its HBONE connection got GOAWAY: the peer drains, the next request goes over a new one
      return;
    }
    ClusterRuntime cluster = c.cluster();
    for (Iterator<Waiter> it = waiters.iterator(); it.hasNext(); ) {
      Waiter w = it.next();
      if (w.key.equals(c.key()) && !w.promise.isDone()) {
        it.remove();
        unqueued(w);
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
    return new HttpDecoderConfig().setMaxHeaderSize(limits.maxResponseHeaderBytes()).setMaxInitialLineLength(16 * 1024)
        .setMaxChunkSize(MAX_BODY_PIECE);
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
    final Share share;
    ScheduledFuture<?> timeout;
    boolean queued = true;

    Waiter(Key key, ClusterRuntime cluster, Host host, LocalWorkload source, Promise<Lease> promise, Share share) {
      this.key = key;
      this.cluster = cluster;
      this.host = host;
      this.source = source;
      this.promise = promise;
      this.share = share;
    }
  }

  /**
   * This pool's part in one cluster's connection slots. Its counts are written on this loop and read by other loops
   * (through the breaker) to skip a hop when there is nothing to do here.
   */
  private final class Share implements CircuitBreaker.SlotHolder {
    final ClusterRuntime cluster;
    /** Connections of the cluster open in this pool (idle or busy). */
    final AtomicInteger connections = new AtomicInteger();
    /** Requests of the cluster waiting in this pool. */
    final AtomicInteger waiting = new AtomicInteger();
    private final AtomicBoolean wakeQueued = new AtomicBoolean();

    Share(ClusterRuntime cluster) {
      this.cluster = cluster;
    }

    @Override
    public void onSlotReleased() {
      if (waiting.get() > 0 && wakeQueued.compareAndSet(false, true) && !onLoop(() -> {
        wakeQueued.set(false);
        serveWaiters();
      })) {
        wakeQueued.set(false);
      }
    }

    @Override
    public void closeIdle(Runnable none) {
      if (connections.get() == 0 || !onLoop(() -> {
        if (!closeOneIdle(cluster.name())) {
          none.run();
        }
      })) {
        none.run();
      }
    }

    /** Runs {@code task} on this pool's loop; false if the loop no longer takes tasks (the proxy is stopping). */
    private boolean onLoop(Runnable task) {
      if (loop.isShuttingDown()) {
        return false;
      }
      try {
        loop.execute(task);
        return true;
      } catch (RejectedExecutionException e) {
        return false;
      }
    }
  }

  /** Closes every connection; pending requests fail. */
  public void close() {
    List<Waiter> leaving = List.copyOf(waiters);
    waiters.clear();
    for (Waiter w : leaving) {
      unqueued(w);
      w.promise.tryFailure(new UpstreamException(UpstreamException.Kind.CONNECT_FAILURE, "proxy shutting down", null));
    }
    if (sweep != null) {
      sweep.cancel(false);
    }
    // Copies: closing runs each connection's close listener at once, and it removes the connection from these lists.
    idleH1.values().stream().flatMap(Collection::stream).toList().forEach(UpstreamConnection::close);
    h2.values().stream().flatMap(Collection::stream).toList().forEach(UpstreamConnection::close);
    shares.values().forEach(s -> s.cluster.breaker().leave(s)); // connections still closing release no slot to us
    shares.clear();
    log.debug("upstream pool on {} closed", loop);
  }
}
