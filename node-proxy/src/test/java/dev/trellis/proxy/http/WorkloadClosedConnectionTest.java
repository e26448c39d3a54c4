package dev.trellis.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.trellis.proxy.cluster.ClusterRuntime;
import dev.trellis.proxy.cluster.Clusters;
import dev.trellis.proxy.route.RouteTable;
import dev.trellis.proxy.state.ClusterSpec;
import dev.trellis.proxy.state.EndpointSpec;
import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.proxy.state.PathNormalization;
import dev.trellis.proxy.state.ProxyConfig;
import dev.trellis.proxy.testing.LeakRecorder;
import dev.trellis.proxy.testing.RawHttp;
import dev.trellis.proxy.transport.Transport;
import dev.trellis.telemetry.Telemetry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The destination proxy's HTTP engine as {@code inbound.HttpInspection} runs it: every downstream connection first
 * connects to the workload with {@link Transport#relayConnection} (the bootstrap of the HBONE stream handler and of the
 * plaintext inbound, which allows half-closure for the byte relays), and the HTTP engine adopts that socket into its
 * event loop's {@link UpstreamPool} once the caller speaks HTTP. {@value #LOOPS} event loops, real sockets.
 *
 * <p>The workload closes a keep-alive connection right after its response, without {@code Connection: close}: what
 * the JDK's {@code HttpServer} (the demo's workloads) does to a connection that turns idle while it already holds
 * {@code sun.net.httpserver.maxIdleConnections} (200) idle ones, and what any server does at its idle timeout. The
 * proxy must take such a connection out of its pool; a connection it kept "active" with its input shut down took the
 * next request, whose reset it never read: the request waited for the route timeout (504 {@code UT}, seen as the
 * demo's stalls under load).
 */
class WorkloadClosedConnectionTest {

  private static final int LOOPS = 4;
  private static final String NAME = "inbound|8080|d/web";
  /** The route timeout: a request on a dead connection is answered 504 UT after it. */
  private static final Duration ROUTE_TIMEOUT = Duration.ofSeconds(2);
  private static final LocalWorkload TARGET = new LocalWorkload("d/web", "d", null, List.of("127.0.0.1"), true,
      LocalWorkload.MtlsMode.PERMISSIVE, Map.of());

  private final EventLoopGroup group = Transport.newGroup(LOOPS, "proxy");
  private Workload workload = new Workload(true);
  private final Clusters clusters = new Clusters();
  private final Map<EventLoop, UpstreamPool> pools = new ConcurrentHashMap<>();
  private final Set<EventLoop> downstreamLoops = ConcurrentHashMap.newKeySet();
  private ClusterRuntime cluster;
  private Channel proxy;

  @AfterEach
  void close() {
    if (proxy != null) {
      proxy.close().syncUninterruptibly();
    }
    pools.forEach((loop, pool) -> loop.submit(pool::close).syncUninterruptibly());
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    workload.close();
    LeakRecorder.assertNoLeaks();
  }

  @Test
  void aWorkloadClosingItsKeepAliveConnectionAfterEachResponseNeverStallsTheNextRequest() throws Exception {
    start();
    List<String> answers = new ArrayList<>();
    int clients = 2 * LOOPS;
    int requestsEach = 3;
    for (int i = 0; i < clients; i++) {
      try (RawHttp c = RawHttp.plain((InetSocketAddress) proxy.localAddress())) {
        for (int j = 0; j < requestsEach; j++) {
          long start = System.nanoTime();
          RawHttp.Response r = c.get("/");
          answers.add(r.status() + (r.header("x-trellis-response-flags") == null ? ""
              : " " + r.header("x-trellis-response-flags")) + (System.nanoTime() - start
              >= ROUTE_TIMEOUT.toNanos() ? " after the route timeout" : ""));
        }
      }
    }

    assertThat(answers).as("every request answered by the workload; none waited for the route timeout on a "
        + "connection the workload had closed").containsOnly("200").hasSize(clients * requestsEach);
    assertThat(workload.requests.get()).isEqualTo(clients * requestsEach);
    assertThat(downstreamLoops).as("the clients came in on every event loop").hasSize(LOOPS);
  }

  /**
   * A workload socket adopted for a downstream connection leaves the pool with it: every HBONE stream brings one, and
   * a pool that kept each for the 30 s idle timeout held hundreds of them under load (the chaos suite's node proxy:
   * 1,134 open files). Sequential clients on every loop, a workload that keeps its connections open.
   */
  @Test
  void anAdoptedWorkloadConnectionClosesWithTheDownstreamConnectionItWasOpenedFor() throws Exception {
    workload.close();
    workload = new Workload(false);
    start();
    int clients = 3 * LOOPS;
    for (int i = 0; i < clients; i++) {
      try (RawHttp c = RawHttp.plain((InetSocketAddress) proxy.localAddress())) {
        for (int j = 0; j < 2; j++) {
          assertThat(c.get("/").status()).isEqualTo(200);
        }
      }
    }
    assertThat(workload.requests.get()).isEqualTo(2 * clients);
    assertThat(workload.accepted.get()).as("one workload connection per downstream connection").isEqualTo(clients);
    await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(workload.open.get())
        .as("workload connections still open once every downstream connection has ended").isZero());
  }

  /** The HTTP engine on a {@value #LOOPS}-loop listener, adopting a workload connection per downstream connection. */
  private void start() {
    cluster = clusters.findOrCreate(new ClusterSpec(NAME, ClusterSpec.LbAlgorithm.ROUND_ROBIN, Duration.ofSeconds(1),
        ClusterSpec.Breaker.DEFAULTS, null, ClusterSpec.UpstreamProtocol.HTTP1), List.of(new EndpointSpec("127.0.0.1",
            workload.address().getPort(), null, null, null, false, TARGET.name(), null, 1)));
    RouteTable table = new RouteTable(NAME, List.of(new RouteTable.VirtualHost(NAME, Set.of("*"), List.of(
        new RouteTable.Rule("all", new RouteTable.Match(null, "/", null, List.of()),
            new RouteTable.Action(List.of(new RouteTable.WeightedCluster(NAME, 1)), ROUTE_TIMEOUT, null, null,
                false))))));
    ProxyConfig config = new ProxyConfig(0, List.of(), Map.of(), Map.of(), Map.of(NAME, table), Map.of(),
        PathNormalization.DEFAULTS);
    proxy = new ServerBootstrap().group(group).channel(Transport.serverChannel())
        .childHandler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            downstreamLoops.add(ch.eventLoop());
            ch.config().setAutoRead(false);
            UpstreamPool pool = pools.computeIfAbsent(ch.eventLoop(),
                l -> new UpstreamPool(l, dialer(l), (int) Duration.ofSeconds(1).toMillis()));
            HttpContext cx = new HttpContext(() -> config, clusters, pool, NAME, TARGET, "127.0.0.1",
                UpstreamPool.Protocol.HTTP1, System::nanoTime, HttpLimits.DEFAULTS, null, true, Telemetry.disabled(),
                null);
            // As the HBONE stream handler does: the workload first, then the HTTP engine adopts that socket.
            Transport.relayConnection(ch.eventLoop(), 1000).connect(workload.address())
                .addListener((ChannelFuture f) -> {
                  if (!f.isSuccess()) {
                    ch.close();
                    return;
                  }
                  Channel toWorkload = f.channel();
                  HttpSniffHandler.install(ch, cx, protocol -> pool.adopt(cluster,
                      cluster.hosts().getFirst(), TARGET, UpstreamPool.Protocol.HTTP1, toWorkload, ch));
                });
          }
        })
        .bind(new InetSocketAddress("127.0.0.1", 0)).syncUninterruptibly().channel();
  }

  /** Further connections to the workload, with the same bootstrap as the adopted ones. */
  private UpstreamDialer dialer(EventLoop loop) {
    return (host, source) -> {
      Promise<Channel> p = loop.newPromise();
      Transport.relayConnection(loop, 1000).connect(workload.address()).addListener((ChannelFuture f) -> {
        if (f.isSuccess()) {
          p.setSuccess(f.channel());
        } else {
          p.setFailure(new UpstreamPool.UpstreamException(UpstreamPool.UpstreamException.Kind.CONNECT_FAILURE,
              f.cause().getMessage(), f.cause()));
        }
      });
      return p;
    };
  }

  /**
   * An HTTP/1.1 workload that answers 200 with a {@code Content-Length} and no {@code Connection: close}, then, if
   * {@code closeAfterResponse}, closes the connection once the response is written.
   */
  private static final class Workload implements AutoCloseable {
    final AtomicInteger requests = new AtomicInteger();
    final AtomicInteger accepted = new AtomicInteger();
    final AtomicInteger open = new AtomicInteger();
    private final EventLoopGroup group = Transport.newGroup(1, "workload");
    private final Channel server;

    Workload(boolean closeAfterResponse) {
      server = new ServerBootstrap().group(group).channel(Transport.serverChannel())
          .childHandler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
              accepted.incrementAndGet();
              open.incrementAndGet();
              ch.closeFuture().addListener(f -> open.decrementAndGet());
              ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(1 << 16),
                  new SimpleChannelInboundHandler<FullHttpRequest>() {
                    @Override
                    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
                      requests.incrementAndGet();
                      FullHttpResponse res = new DefaultFullHttpResponse(req.protocolVersion(), HttpResponseStatus.OK,
                          ctx.alloc().buffer().writeBytes("ok".getBytes(StandardCharsets.UTF_8)));
                      res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, 2);
                      ChannelFuture written = ctx.writeAndFlush(res);
                      if (closeAfterResponse) {
                        written.addListener(ChannelFutureListener.CLOSE);
                      }
                    }
                  });
            }
          })
          .bind(new InetSocketAddress("127.0.0.1", 0)).syncUninterruptibly().channel();
    }

    InetSocketAddress address() {
      return (InetSocketAddress) server.localAddress();
    }

    @Override
    public void close() {
      server.close().syncUninterruptibly();
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
  }
}
