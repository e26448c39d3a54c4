package dev.trellis.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.proxy.cluster.ClusterRuntime;
import dev.trellis.proxy.cluster.Clusters;
import dev.trellis.proxy.cluster.Host;
import dev.trellis.proxy.resilience.CircuitBreaker.Resource;
import dev.trellis.proxy.state.ClusterSpec;
import dev.trellis.proxy.state.EndpointSpec;
import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.proxy.testing.LeakRecorder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The pool without sockets: its event loop is an {@link EmbeddedChannel}'s, the dialer hands out embedded channels
 * ("upstream connections"), idle time is a settable ticker and the sweep timer runs on the embedded loop's clock.
 */
class UpstreamPoolTest {

  private static final LocalWorkload SOURCE = new LocalWorkload("d/client", "d", null, List.of("127.0.0.1"), false,
      LocalWorkload.MtlsMode.PERMISSIVE, Map.of());

  private final EmbeddedChannel loopChannel = new EmbeddedChannel();
  private final AtomicLong ticker = new AtomicLong(1_000_000_000L);
  private final List<EmbeddedChannel> dialed = new ArrayList<>();
  private final UpstreamPool pool = new UpstreamPool(loopChannel.eventLoop(), (host, source) -> {
    EmbeddedChannel ch = new EmbeddedChannel();
    ch.config().setAutoRead(false);
    dialed.add(ch);
    return loopChannel.eventLoop().newSucceededFuture(ch);
  }, 1000, ticker::get);
  private final ClusterRuntime cluster = new Clusters().findOrCreate(new ClusterSpec("web",
      ClusterSpec.LbAlgorithm.ROUND_ROBIN, Duration.ofSeconds(1), ClusterSpec.Breaker.DEFAULTS, null),
      List.of(new EndpointSpec("127.0.73.10", 8080, null, null, null, false, "d/web", null, 1)));
  private final Host host = cluster.hosts().getFirst();

  @AfterEach
  void noLeaks() {
    pool.close();
    dialed.forEach(EmbeddedChannel::finishAndReleaseAll);
    loopChannel.finishAndReleaseAll();
    LeakRecorder.assertNoLeaks();
  }

  private UpstreamPool.Lease acquire() {
    Future<UpstreamPool.Lease> f = pool.acquire(cluster, host, SOURCE, UpstreamPool.Protocol.HTTP1);
    assertThat(f.isSuccess()).as("leased at once: %s", f.cause()).isTrue();
    return f.getNow();
  }

  @Test
  void firstRequestDialsAConnectionWithTheHttp1CodecAndTakesASlot() {
    UpstreamPool.Lease lease = acquire();

    assertThat(dialed).hasSize(1);
    assertThat(lease.channel()).isSameAs(dialed.getFirst());
    assertThat(lease.reused()).isFalse();
    assertThat(lease.channel().pipeline().names()).contains("http", "lease");
    assertThat(lease.channel().config().isAutoRead()).isTrue();
    assertThat(pool.connections()).isEqualTo(1);
    assertThat(cluster.breaker().used(Resource.CONNECTIONS)).isEqualTo(1);
  }

  @Test
  void aReleasedReusableConnectionIsHandedOutAgainWithoutDialing() {
    UpstreamPool.Lease first = acquire();
    Channel ch = first.channel();
    first.release(true);
    first.release(true); // idempotent: parked once

    UpstreamPool.Lease idle = pool.tryAcquireIdle(cluster, host, SOURCE, UpstreamPool.Protocol.HTTP1);
    assertThat(idle).isNotNull();
    assertThat(idle.channel()).isSameAs(ch);
    assertThat(idle.reused()).isTrue();
    assertThat(pool.tryAcquireIdle(cluster, host, SOURCE, UpstreamPool.Protocol.HTTP1)).as("leased once").isNull();
    idle.release(true);

    UpstreamPool.Lease again = acquire();
    assertThat(again.channel()).isSameAs(ch);
    assertThat(again.reused()).isTrue();
    assertThat(dialed).hasSize(1);
    assertThat(pool.connections()).isEqualTo(1);
  }

  @Test
  void aConnectionReleasedAsNotReusableClosesAndGivesItsSlotBack() {
    UpstreamPool.Lease lease = acquire();
    lease.release(false);

    assertThat(dialed.getFirst().isOpen()).isFalse();
    assertThat(pool.connections()).isZero();
    assertThat(cluster.breaker().used(Resource.CONNECTIONS)).isZero();
    assertThat(pool.tryAcquireIdle(cluster, host, SOURCE, UpstreamPool.Protocol.HTTP1)).isNull();
  }

  @Test
  void anIdleConnectionIsEvictedBySweepOnlyAfterTheIdleTime() {
    acquire().release(true);
    EmbeddedChannel ch = dialed.getFirst();

    ticker.addAndGet(TimeUnit.MILLISECONDS.toNanos(UpstreamPool.IDLE_MILLIS) - 1);
    sweep();
    assertThat(ch.isOpen()).as("idle for less than %s ms", UpstreamPool.IDLE_MILLIS).isTrue();
    assertThat(pool.connections()).isEqualTo(1);

    ticker.addAndGet(1);
    sweep();
    assertThat(ch.isOpen()).isFalse();
    assertThat(pool.connections()).isZero();
    assertThat(cluster.breaker().used(Resource.CONNECTIONS)).isZero();
    assertThat(pool.tryAcquireIdle(cluster, host, SOURCE, UpstreamPool.Protocol.HTTP1)).isNull();
  }

  @Test
  void anHttp2ConnectionWithoutStreamsIsClosedBySweepOnlyAfterTheIdleTime() {
    Future<UpstreamPool.Lease> f = pool.acquire(cluster, host, SOURCE, UpstreamPool.Protocol.HTTP2);
    loopChannel.runPendingTasks();
    assertThat(f.isSuccess()).as("a stream at once: %s", f.cause()).isTrue();
    EmbeddedChannel ch = dialed.getFirst();
    assertThat(ch.pipeline().names()).contains("h2", "streams");
    f.getNow().release(true);
    assertThat(ch.isOpen()).as("kept for the next request").isTrue();

    ticker.addAndGet(TimeUnit.MILLISECONDS.toNanos(UpstreamPool.IDLE_MILLIS) - 1);
    sweep();
    assertThat(ch.isOpen()).as("idle for less than %s ms", UpstreamPool.IDLE_MILLIS).isTrue();
    assertThat(pool.connections()).isEqualTo(1);

    ticker.addAndGet(1);
    sweep();
    assertThat(ch.isOpen()).as("a workload connection (or HBONE stream) is not held forever").isFalse();
    assertThat(pool.connections()).isZero();
    assertThat(cluster.breaker().used(Resource.CONNECTIONS)).isZero();
  }

  /**
   * An upstream HTTP/2 connection riding an HBONE stream opens no new request stream once that stream's HBONE
   * connection got GOAWAY (the destination proxy drains): the next request dials a fresh one, the busy one keeps its
   * request and closes when that request ends. The HBONE connections are embedded HTTP/2 client connections, one per
   * dial, each carrying the tunnel stream the dialer hands out.
   */
  @Test
  void aBusyHttp2ConnectionWhoseHboneConnectionGotGoawayTakesNoNewStreamAndClosesWhenItsLastEnds() {
    List<EmbeddedChannel> carriers = new ArrayList<>();
    List<Http2StreamChannel> tunnels = new ArrayList<>();
    UpstreamPool overHbone = new UpstreamPool(loopChannel.eventLoop(), (h, s) -> {
      EmbeddedChannel carrier = new EmbeddedChannel(Http2FrameCodecBuilder.forClient().build(),
          new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()));
      carriers.add(carrier);
      Http2StreamChannel tunnel = new Http2StreamChannelBootstrap(carrier).handler(new DataFrames()).open().getNow();
      tunnel.writeAndFlush(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().method("CONNECT")
          .authority("127.0.73.10:8080")));
      tunnels.add(tunnel);
      return loopChannel.eventLoop().newSucceededFuture(tunnel);
    }, 1000, ticker::get);
    try {
      UpstreamPool.Lease busy = leaseOn(overHbone);
      UpstreamPool.Lease second = leaseOn(overHbone);
      assertThat(second.channel().parent()).as("a second stream on the same connection").isSameAs(busy.channel().parent());
      second.release(true);

      carriers.getFirst().writeInbound(goAway(tunnels.getFirst().stream().id()));
      assertThat(carriers.getFirst().pipeline().get(Http2FrameCodec.class).connection().goAwayReceived()).isTrue();

      UpstreamPool.Lease next = leaseOn(overHbone);
      assertThat(tunnels).as("a fresh connection dialed").hasSize(2);
      assertThat(next.channel().parent()).isSameAs(tunnels.get(1));
      assertThat(tunnels.getFirst().isActive()).as("the busy one keeps its request").isTrue();

      busy.release(true);
      loopChannel.runPendingTasks();
      carriers.getFirst().runPendingTasks();
      assertThat(tunnels.getFirst().isOpen()).as("closed once its last stream ended").isFalse();
      assertThat(overHbone.connections()).isEqualTo(1);
      next.release(true);
      assertThat(tunnels.get(1).isOpen()).as("the other one stays for the next request").isTrue();
    } finally {
      overHbone.close();
      carriers.forEach(EmbeddedChannel::finishAndReleaseAll);
    }
  }

  private UpstreamPool.Lease leaseOn(UpstreamPool p) {
    Future<UpstreamPool.Lease> f = p.acquire(cluster, host, SOURCE, UpstreamPool.Protocol.HTTP2);
    loopChannel.runPendingTasks();
    assertThat(f.isSuccess()).as("a stream at once: %s", f.cause()).isTrue();
    return f.getNow();
  }

  /** The server's side of an HBONE connection: its SETTINGS, then GOAWAY with {@code lastStreamId} (NO_ERROR). */
  private static ByteBuf goAway(int lastStreamId) {
    ByteBuf b = Unpooled.buffer();
    b.writeMedium(0).writeByte(0x4).writeByte(0).writeInt(0); // SETTINGS, empty
    b.writeMedium(8).writeByte(0x7).writeByte(0).writeInt(0).writeInt(lastStreamId).writeInt(0); // GOAWAY
    return b;
  }

  /** Bytes written to a tunnel stream leave as DATA frames (what the HBONE connector's stream handler does). */
  private static final class DataFrames extends ChannelOutboundHandlerAdapter {
    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
      ctx.write(msg instanceof ByteBuf b ? new DefaultHttp2DataFrame(b) : msg, promise);
    }
  }

  @Test
  void aRequestOnAnotherLoopHasThisLoopsIdleConnectionClosedAndTakesItsSlotWithoutOverflow() {
    ClusterRuntime one = new Clusters().findOrCreate(new ClusterSpec("one", ClusterSpec.LbAlgorithm.ROUND_ROBIN,
        Duration.ofSeconds(1), new ClusterSpec.Breaker(1, 1, 1024, 3, -1, 3), null),
        List.of(new EndpointSpec("127.0.73.10", 8080, null, null, null, false, "d/web", null, 1)));
    Host oneHost = one.hosts().getFirst();
    EmbeddedChannel otherLoop = new EmbeddedChannel();
    List<EmbeddedChannel> otherDialed = new ArrayList<>();
    UpstreamPool other = new UpstreamPool(otherLoop.eventLoop(), (h, s) -> {
      EmbeddedChannel ch = new EmbeddedChannel();
      ch.config().setAutoRead(false);
      otherDialed.add(ch);
      return otherLoop.eventLoop().newSucceededFuture(ch);
    }, 1000, ticker::get);
    try {
      pool.acquire(one, oneHost, SOURCE, UpstreamPool.Protocol.HTTP1).getNow().release(true); // idle on this loop
      Future<UpstreamPool.Lease> second = other.acquire(one, oneHost, SOURCE, UpstreamPool.Protocol.HTTP1);
      assertThat(second.isDone()).as("the one slot is held by the idle connection on this loop").isFalse();
      assertThat(one.breaker().used(Resource.PENDING_REQUESTS)).isEqualTo(1);

      loopChannel.runPendingTasks(); // this loop runs what the other asked: close the idle connection
      assertThat(dialed.getFirst().isOpen()).isFalse();
      otherLoop.runPendingTasks(); // the released slot woke the other loop's waiter

      assertThat(second.isSuccess()).as("leased on the other loop: %s", second.cause()).isTrue();
      assertThat(otherDialed).hasSize(1);
      assertThat(one.breaker().used(Resource.CONNECTIONS)).isEqualTo(1);
      assertThat(one.breaker().used(Resource.PENDING_REQUESTS)).isZero();
      assertThat(one.breaker().overflows(Resource.CONNECTIONS)).isZero();
      assertThat(one.breaker().overflows(Resource.PENDING_REQUESTS)).isZero();
    } finally {
      other.close();
      otherDialed.forEach(EmbeddedChannel::finishAndReleaseAll);
      otherLoop.finishAndReleaseAll();
    }
  }

  @Test
  void anIdleConnectionTheServerClosedIsNotHandedOut() {
    acquire().release(true);
    dialed.getFirst().close();

    assertThat(pool.tryAcquireIdle(cluster, host, SOURCE, UpstreamPool.Protocol.HTTP1)).isNull();
    assertThat(pool.connections()).isZero();
    acquire();
    assertThat(dialed).hasSize(2);
  }

  @Test
  void bytesOnAnIdleConnectionCloseItAndAreReleased() {
    acquire().release(true);
    EmbeddedChannel ch = dialed.getFirst();

    ch.writeInbound(ascii("HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\n\r\n"));

    assertThat(ch.isOpen()).isFalse();
    assertThat(pool.connections()).isZero();
  }

  @Test
  void aLeaseCarriesOneExchangeAndTheConnectionServesTheNextOne() {
    for (int i = 0; i < 2; i++) {
      UpstreamPool.Lease lease = acquire();
      List<Object> received = new ArrayList<>();
      lease.listen(new UpstreamPool.UpstreamListener() {
        @Override
        public void onMessage(Object msg) {
          received.add(msg);
        }

        @Override
        public void onReadComplete() {}

        @Override
        public void onWritable() {}

        @Override
        public void onClosed() {}
      });
      EmbeddedChannel ch = (EmbeddedChannel) lease.channel();
      ch.writeOutbound(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/" + i));
      ByteBuf sent = ch.readOutbound();
      try {
        assertThat(sent.toString(StandardCharsets.US_ASCII)).startsWith("GET /" + i + " HTTP/1.1");
      } finally {
        sent.release();
      }
      ch.writeInbound(ascii("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"));
      try {
        assertThat(received).hasSize(2);
        assertThat(((HttpResponse) received.getFirst()).status().code()).isEqualTo(200);
        assertThat(received.get(1)).isInstanceOf(LastHttpContent.class);
        assertThat(((HttpContent) received.get(1)).content().toString(StandardCharsets.US_ASCII)).isEqualTo("ok");
      } finally {
        received.forEach(ReferenceCountUtil::release);
      }
      lease.release(true);
    }
    assertThat(dialed).hasSize(1);
  }

  /** Runs the pool's sweep timer: it fires every quarter of the idle time. */
  private void sweep() {
    loopChannel.advanceTimeBy(UpstreamPool.IDLE_MILLIS / 4, TimeUnit.MILLISECONDS);
    loopChannel.runScheduledPendingTasks();
  }

  private static ByteBuf ascii(String s) {
    return Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII);
  }
}
