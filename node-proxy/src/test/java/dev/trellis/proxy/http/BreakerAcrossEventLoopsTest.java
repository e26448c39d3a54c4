package dev.trellis.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.trellis.proxy.cluster.ClusterRuntime;
import dev.trellis.proxy.cluster.Clusters;
import dev.trellis.proxy.resilience.CircuitBreaker.Resource;
import dev.trellis.proxy.route.RouteTable;
import dev.trellis.proxy.state.ClusterSpec;
import dev.trellis.proxy.state.EndpointSpec;
import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.proxy.state.PathNormalization;
import dev.trellis.proxy.state.ProxyConfig;
import dev.trellis.proxy.testing.H2Caller;
import dev.trellis.proxy.testing.LeakRecorder;
import dev.trellis.proxy.testing.RawHttp;
import dev.trellis.proxy.transport.Transport;
import dev.trellis.telemetry.Telemetry;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A cluster's circuit breaker holds across the proxy's event loops, as production runs it: the HTTP engine
 * ({@link HttpSniffHandler} and what it installs) on a listener of a {@value #LOOPS}-loop group with one
 * {@link UpstreamPool} per loop, every downstream connection on the next loop, real sockets on 127.0.0.1 to a backend
 * that counts the upstream connections it holds open. The upstream speaks the downstream's protocol, so each case runs
 * over HTTP/1.1 and HTTP/2 on both sides.
 */
class BreakerAcrossEventLoopsTest {

  /** More loops than concurrent calls: each call lands on a loop of its own (HTTP/2 requests on one loop would share a connection). */
  private static final int LOOPS = 8;
  private static final String NAME = "slow";
  /** How long a request may wait for a connection slot; a request stuck behind another loop's idle connection would. */
  private static final int CONNECT_TIMEOUT_MILLIS = 3000;
  private static final LocalWorkload SOURCE = new LocalWorkload("d/client", "d", null, List.of("127.0.0.1"), false,
      LocalWorkload.MtlsMode.PERMISSIVE, Map.of());

  private final EventLoopGroup group = Transport.newGroup(LOOPS, "proxy");
  private final Backend backend = new Backend();
  private final Clusters clusters = new Clusters();
  private final Map<EventLoop, UpstreamPool> pools = new ConcurrentHashMap<>();
  private final List<EventLoop> downstreamLoops = Collections.synchronizedList(new ArrayList<>());
  /** Upstream connections the proxy holds open now, and the most it held at once. */
  private final AtomicInteger upstreamOpen = new AtomicInteger();
  private final AtomicInteger upstreamMostOpen = new AtomicInteger();
  private ClusterRuntime cluster;
  private Channel proxy;

  @AfterEach
  void close() {
    if (proxy != null) {
      proxy.close().syncUninterruptibly();
    }
    pools.forEach((loop, pool) -> loop.submit(pool::close).syncUninterruptibly());
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    backend.close();
    LeakRecorder.assertNoLeaks();
  }

  /** The proxy with one cluster to the backend under {@code breaker}. */
  private void start(ClusterSpec.Breaker breaker) {
    cluster = clusters.findOrCreate(new ClusterSpec(NAME, ClusterSpec.LbAlgorithm.ROUND_ROBIN, Duration.ofSeconds(1),
        breaker, null), List.of(new EndpointSpec("127.0.0.1", backend.address().getPort(), null, null, null, false,
            "d/slow", null, 1)));
    RouteTable table = new RouteTable(NAME, List.of(new RouteTable.VirtualHost(NAME, Set.of("*"), List.of(
        new RouteTable.Rule("all", new RouteTable.Match(null, "/", null, List.of()),
            new RouteTable.Action(List.of(new RouteTable.WeightedCluster(NAME, 1)), null, null, null, false))))));
    ProxyConfig config = new ProxyConfig(0, List.of(), Map.of(), Map.of(), Map.of(NAME, table), Map.of(),
        PathNormalization.DEFAULTS);
    proxy = new ServerBootstrap().group(group).channel(Transport.serverChannel())
        .childHandler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            downstreamLoops.add(ch.eventLoop());
            UpstreamPool pool = pools.computeIfAbsent(ch.eventLoop(),
                l -> new UpstreamPool(l, dialer(l), CONNECT_TIMEOUT_MILLIS));
            HttpContext cx = new HttpContext(() -> config, clusters, pool, NAME, SOURCE, "127.0.0.1",
                UpstreamPool.Protocol.HTTP1, System::nanoTime, HttpLimits.DEFAULTS, null, false, Telemetry.disabled(),
                null);
            HttpSniffHandler.install(ch, cx, null);
          }
        })
        .bind(new InetSocketAddress("127.0.0.1", 0)).syncUninterruptibly().channel();
  }

  /** Plain TCP to the backend on {@code loop}, as the proxy's dialer opens a connection outside the mesh. */
  private UpstreamDialer dialer(EventLoop loop) {
    return (host, source) -> {
      Promise<Channel> p = loop.newPromise();
      new Bootstrap().group(loop).channel(Transport.socketChannel())
          .option(ChannelOption.AUTO_READ, false)
          .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, CONNECT_TIMEOUT_MILLIS)
          .handler(new ChannelInboundHandlerAdapter())
          .connect(backend.address())
          .addListener((ChannelFuture f) -> {
            if (f.isSuccess()) {
              upstreamMostOpen.accumulateAndGet(upstreamOpen.incrementAndGet(), Math::max);
              f.channel().closeFuture().addListener(c -> upstreamOpen.decrementAndGet());
              p.setSuccess(f.channel());
            } else {
              p.setFailure(new UpstreamPool.UpstreamException(UpstreamPool.UpstreamException.Kind.CONNECT_FAILURE,
                  f.cause().getMessage(), f.cause()));
            }
          });
      return p;
    };
  }

  private InetSocketAddress proxyAddress() {
    return (InetSocketAddress) proxy.localAddress();
  }

  /** One request on a new downstream connection: status and response flag (null when the upstream answered). */
  private record Answer(int status, String flag) {}

  private Answer call(UpstreamPool.Protocol protocol) throws Exception {
    if (protocol == UpstreamPool.Protocol.HTTP1) {
      try (RawHttp c = RawHttp.plain(proxyAddress())) {
        RawHttp.Response r = c.get("/");
        return new Answer(r.status(), r.header("x-trellis-response-flags"));
      }
    }
    try (H2Caller c = new H2Caller(proxyAddress())) {
      H2Caller.Response r = c.send("GET", "/");
      return new Answer(r.status(), r.header("x-trellis-response-flags"));
    }
  }

  @ParameterizedTest
  @EnumSource(UpstreamPool.Protocol.class)
  void sequentialRequestsOnDifferentEventLoopsNeverMeetTheBreakerAndShareTheOneConnection(
      UpstreamPool.Protocol protocol) throws Exception {
    start(new ClusterSpec.Breaker(1, 1, 1024, 3, -1, 3));
    int n = 2 * LOOPS;
    List<Answer> answers = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      answers.add(call(protocol)); // strictly one after the other, each on a new downstream connection
    }

    assertThat(answers).as("every request served, none waited out the connect timeout for a slot")
        .containsOnly(new Answer(200, null)).hasSize(n);
    assertThat(cluster.breaker().overflows(Resource.CONNECTIONS)).isZero();
    assertThat(cluster.breaker().overflows(Resource.PENDING_REQUESTS)).isZero();
    List<EventLoop> loops = List.copyOf(downstreamLoops);
    assertThat(loops).hasSize(n);
    for (int i = 1; i < n; i++) {
      assertThat(loops.get(i)).as("request %s arrived on another event loop than the one before", i)
          .isNotSameAs(loops.get(i - 1));
    }
    assertThat(new HashSet<>(loops)).hasSize(LOOPS);
    assertThat(backend.requests.get()).isEqualTo(n);
    assertThat(upstreamMostOpen.get()).as("upstream connections the proxy held open at once").isEqualTo(1);
    assertThat(backend.maxOpen()).as("upstream connections open at once at the backend").isEqualTo(1);
  }

  @ParameterizedTest
  @EnumSource(UpstreamPool.Protocol.class)
  void fiveConcurrentCallsWithOneConnectionAndOnePendingServeTwoAndRefuseThreeAtOnce(UpstreamPool.Protocol protocol)
      throws Exception {
    start(new ClusterSpec.Breaker(1, 1, 1024, 3, -1, 3));
    CompletableFuture<Void> slow = new CompletableFuture<>(); // the backend holds every answer until this completes
    backend.gate = slow;
    List<Future<Answer>> calls = new ArrayList<>();
    try (ExecutorService clients = Executors.newVirtualThreadPerTaskExecutor()) {
      for (int i = 0; i < 5; i++) {
        calls.add(clients.submit(() -> call(protocol)));
      }
      // Three refusals come back while the backend still holds the first request (and the second waits for its slot).
      await().atMost(Duration.ofSeconds(10)).until(() -> calls.stream().filter(Future::isDone).count() >= 3);
      assertThat(backend.answered.get()).as("the backend has answered nothing yet").isZero();
      assertThat(backend.requests.get()).as("only the first request reached the backend").isEqualTo(1);
      List<Answer> refused = calls.stream().filter(Future::isDone).map(Future::resultNow).toList();
      assertThat(refused).containsExactly(new Answer(503, "UO"), new Answer(503, "UO"), new Answer(503, "UO"));
      assertThat(cluster.breaker().used(Resource.PENDING_REQUESTS)).as("the second request waits").isEqualTo(1);

      slow.complete(null);
      List<Answer> all = new ArrayList<>();
      for (Future<Answer> f : calls) {
        all.add(f.get(20, TimeUnit.SECONDS));
      }
      assertThat(all).filteredOn(a -> a.status() == 200).as("the first, then the one that waited").hasSize(2);
      assertThat(all).filteredOn(a -> a.equals(new Answer(503, "UO"))).hasSize(3);
    }
    assertThat(cluster.breaker().overflows(Resource.PENDING_REQUESTS)).as("one per refused request").isEqualTo(3);
    assertThat(cluster.breaker().overflows(Resource.CONNECTIONS)).as("waiting is not overflowing").isZero();
    assertThat(new HashSet<>(downstreamLoops)).as("each call on a loop of its own").hasSize(5);
    assertThat(upstreamMostOpen.get()).as("upstream connections the proxy held open at once").isEqualTo(1);
    assertThat(backend.maxOpen()).as("upstream connections open at once at the backend").isEqualTo(1);
  }

  /**
   * An HTTP/1.1 and HTTP/2 (prior knowledge) server on one port and one event loop that answers 200 once {@link #gate}
   * completes, counting requests, answers and how many connections were open at once. A connection counts with those
   * accepted before it that are still open {@value #SETTLE_MILLIS} ms later: the proxy closes the old one before it
   * dials the new one, but the two sockets' packets may be processed in either order on loopback (by different CPUs),
   * so the old one's end may reach us just after the new one; a connection the proxy kept would still be open.
   */
  private static final class Backend implements AutoCloseable {
    static final long SETTLE_MILLIS = 200;
    final AtomicInteger requests = new AtomicInteger();
    final AtomicInteger answered = new AtomicInteger();
    final AtomicInteger mostOpen = new AtomicInteger();
    final AtomicInteger accepted = new AtomicInteger();
    final AtomicInteger counted = new AtomicInteger();
    volatile CompletableFuture<Void> gate = CompletableFuture.completedFuture(null);
    private final EventLoopGroup group = Transport.newGroup(1, "backend");
    private final Set<Channel> open = new HashSet<>(); // confined to the one loop
    private final Channel server;

    Backend() {
      server = new ServerBootstrap().group(group).channel(Transport.serverChannel())
          .childHandler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
              List<Channel> earlier = List.copyOf(open);
              open.add(ch);
              accepted.incrementAndGet();
              ch.closeFuture().addListener(f -> open.remove(ch));
              ch.eventLoop().schedule(() -> {
                long stillOpen = earlier.stream().filter(Channel::isOpen).count();
                mostOpen.accumulateAndGet(1 + (int) stillOpen, Math::max);
                counted.incrementAndGet();
              }, SETTLE_MILLIS, TimeUnit.MILLISECONDS);
              ch.pipeline().addLast("sniff", new Sniff());
            }
          })
          .bind(new InetSocketAddress("127.0.0.1", 0)).syncUninterruptibly().channel();
    }

    InetSocketAddress address() {
      return (InetSocketAddress) server.localAddress();
    }

    /** The most connections open at once so far, once every connection opened so far has been counted. */
    int maxOpen() {
      await().atMost(Duration.ofSeconds(5)).until(() -> counted.get() == accepted.get());
      return mostOpen.get();
    }

    private final class Sniff extends ByteToMessageDecoder {
      @Override
      protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        ByteBuf preface = Http2CodecUtil.connectionPrefaceBuf();
        try {
          int n = Math.min(in.readableBytes(), preface.readableBytes());
          boolean h2 = ByteBufUtil.equals(in, in.readerIndex(), preface, 0, n);
          if (h2 && n < preface.readableBytes()) {
            return;
          }
          if (h2) {
            ctx.pipeline().addAfter(ctx.name(), "h2", Http2FrameCodecBuilder.forServer().build());
            ctx.pipeline().addAfter("h2", "streams", new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
              @Override
              protected void initChannel(Http2StreamChannel s) {
                s.pipeline().addLast(new Http2StreamFrameToHttpObjectCodec(true), new HttpObjectAggregator(1 << 16),
                    new Answering());
              }
            }));
          } else {
            ctx.pipeline().addAfter(ctx.name(), "http", new HttpServerCodec());
            ctx.pipeline().addAfter("http", "aggregate", new HttpObjectAggregator(1 << 16));
            ctx.pipeline().addAfter("aggregate", "answer", new Answering());
          }
          ctx.pipeline().remove(this);
        } finally {
          preface.release();
        }
      }
    }

    private final class Answering extends SimpleChannelInboundHandler<FullHttpRequest> {
      @Override
      protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
        requests.incrementAndGet();
        gate.thenRun(() -> ctx.executor().execute(() -> {
          FullHttpResponse res = new DefaultFullHttpResponse(req.protocolVersion(), HttpResponseStatus.OK,
              ctx.alloc().buffer().writeBytes("ok".getBytes(StandardCharsets.UTF_8)));
          res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, 2);
          answered.incrementAndGet();
          ctx.writeAndFlush(res);
        }));
      }
    }

    @Override
    public void close() {
      server.close().syncUninterruptibly();
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
  }
}
