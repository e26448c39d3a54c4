package dev.trellis.proxy.drain;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http2.Http2ConnectionHandler;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tracks the downstream connections a node proxy's listeners accept and drains them: {@link #drain} tells each one
 * (on its own event loop, {@link DrainEvent}) that the proxy is leaving, so HTTP/1.1 answers with
 * {@code Connection: close} and HTTP/2 gets GOAWAY ({@link DrainDecision}); what is still open when the timeout
 * passes is closed and counted. Closing the listeners is the caller's part (it owns them).
 *
 * <p>A listener is tracked by building it from {@link #track(ServerBootstrap)}: the accepted connection registers
 * itself once it is on its event loop, so a connection accepted while the drain starts is drained as well.
 */
public final class ConnectionDrain {

  private static final Logger log = LoggerFactory.getLogger(ConnectionDrain.class);

  /** How a drain ended. */
  public record Result(int closedAtTimeout, Duration took) {}

  /** How many of the connections closed at the timeout the log names one by one. */
  private static final int NAMED_AT_TIMEOUT = 20;

  private final Set<Channel> open = ConcurrentHashMap.newKeySet();
  private final AtomicLong closedAtTimeout = new AtomicLong();
  private final LongSupplier ticker;
  private final ChannelHandler acceptor = new Acceptor();
  private volatile CompletableFuture<Result> drained;
  /** What the drain tells each connection; set before {@link #drained}. */
  private volatile DrainEvent event;
  /** How many connections the timeout closed, once it has passed (-1 before). */
  private volatile int cut = -1;
  private long started;

  /** @param ticker nanoseconds (how long a drain took) */
  public ConnectionDrain(LongSupplier ticker) {
    this.ticker = ticker;
  }

  /** Tracks every connection the listener built from {@code bootstrap} accepts; returns {@code bootstrap}. */
  public ServerBootstrap track(ServerBootstrap bootstrap) {
    return bootstrap.handler(acceptor);
  }

  /** Connections accepted and not closed yet. */
  public int open() {
    return open.size();
  }

  /** Whether a drain has started. */
  public boolean draining() {
    return drained != null;
  }

  /** Connections a drain closed at its timeout, since start (for {@code /metrics}). */
  public long closedAtTimeout() {
    return closedAtTimeout.get();
  }

  /**
   * Tells every open connection to finish and completes when none is left, or at {@code timeout}, when what is left
   * is closed and counted. Calling it again returns the same drain.
   *
   * @param scheduler runs the timeout (never an event loop's blocking wait)
   */
  public synchronized CompletableFuture<Result> drain(Duration timeout, ScheduledExecutorService scheduler) {
    if (drained != null) {
      return drained;
    }
    started = ticker.getAsLong();
    CompletableFuture<Result> done = new CompletableFuture<>();
    DrainEvent event = new DrainEvent(timeout);
    this.event = event;
    drained = done;
    List<Channel> now = List.copyOf(open);
    log.info("draining {} connection(s) for at most {} ms", now.size(), timeout.toMillis());
    now.forEach(ch -> tell(ch, event));
    scheduler.schedule(this::cut, timeout.toMillis(), TimeUnit.MILLISECONDS);
    finishIfEmpty();
    return done;
  }

  private static void tell(Channel ch, DrainEvent event) {
    ch.eventLoop().execute(() -> {
      if (!ch.isActive() || ch.hasAttr(DrainEvent.DRAINING)) {
        return;
      }
      ch.attr(DrainEvent.DRAINING).set(event);
      ch.pipeline().fireUserEventTriggered(event);
    });
  }

  /** The timeout: whatever is still open is closed now (an HTTP/2 connection without waiting for its streams). */
  private void cut() {
    if (drained.isDone()) {
      return;
    }
    List<Channel> left = List.copyOf(open);
    cut = left.size(); // before any close: the last close completes the drain with this count
    closedAtTimeout.addAndGet(left.size());
    if (left.isEmpty()) {
      finishIfEmpty();
      return;
    }
    log.warn("drain timeout: closing {} connection(s) still open (raw TCP streams and requests that did not finish)"
        + "{}", left.size(), left.size() > NAMED_AT_TIMEOUT ? "; the first " + NAMED_AT_TIMEOUT + " follow" : "");
    int named = 0;
    for (Channel ch : left) {
      boolean name = named++ < NAMED_AT_TIMEOUT;
      ch.eventLoop().execute(() -> {
        if (name) {
          log.warn("[{}] closed at the drain timeout: {}", ch.id(), describe(ch));
        }
        Http2ConnectionHandler h2 = ch.pipeline().get(Http2ConnectionHandler.class);
        if (h2 != null) {
          h2.gracefulShutdownTimeoutMillis(0); // the close below stops waiting for the open streams
        }
        ch.close();
      });
    }
  }

  /**
   * What a connection left at the timeout is, for the operator: {@code 10.61.1.10:55312 -> 10.61.0.1:15001, HTTP/2
   * with 1 open stream}. On the connection's event loop.
   */
  static String describe(Channel ch) {
    Http2ConnectionHandler h2 = ch.pipeline().get(Http2ConnectionHandler.class);
    String what;
    if (h2 != null) {
      int streams = h2.connection().numActiveStreams();
      what = "HTTP/2 with " + streams + " open stream" + (streams == 1 ? "" : "s");
    } else if (ch.pipeline().get(HttpServerCodec.class) != null) {
      what = "HTTP/1.1 with a request in flight";
    } else {
      what = "a byte stream (TCP relay, or not yet identified)";
    }
    return ch.remoteAddress() + " -> " + ch.localAddress() + ", " + what;
  }

  private void finishIfEmpty() {
    CompletableFuture<Result> d = drained;
    if (d != null && !d.isDone() && open.isEmpty()) {
      int closed = Math.max(cut, 0);
      if (closed == 0) {
        log.info("drained: every connection finished");
      }
      complete(closed);
    }
  }

  private void complete(int cut) {
    drained.complete(new Result(cut, Duration.ofNanos(ticker.getAsLong() - started)));
  }

  /** On each tracked listener: registers what it accepts, once the connection runs on its event loop. */
  @ChannelHandler.Sharable
  private final class Acceptor extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (msg instanceof Channel child) {
        child.pipeline().addFirst("drain-track", new Registration());
      }
      ctx.fireChannelRead(msg);
    }
  }

  /** First in an accepted connection's pipeline until it is registered; then it removes itself. */
  private final class Registration extends ChannelInboundHandlerAdapter {
    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
      Channel ch = ctx.channel();
      open.add(ch);
      ch.closeFuture().addListener(f -> {
        open.remove(ch);
        finishIfEmpty();
      });
      if (drained != null) {
        tell(ch, event);
      }
      ctx.pipeline().remove(this);
    }
  }
}
