package dev.trellis.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.proxy.cluster.ClusterRuntime;
import dev.trellis.proxy.cluster.Clusters;
import dev.trellis.proxy.route.RouteTable;
import dev.trellis.proxy.state.ClusterSpec;
import dev.trellis.proxy.state.EndpointSpec;
import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.proxy.state.PathNormalization;
import dev.trellis.proxy.state.ProxyConfig;
import dev.trellis.proxy.testing.LeakRecorder;
import dev.trellis.telemetry.Telemetry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * One exchange without sockets: the downstream is an {@link EmbeddedChannel} that keeps what the exchange writes,
 * the pool dials embedded upstream channels, time is a settable ticker. Pins the phases an exchange goes through.
 */
class HttpExchangeTest {

  private static final String NAME = "web";
  private static final LocalWorkload SOURCE = new LocalWorkload("d/client", "d", null, List.of("127.0.0.1"), false,
      LocalWorkload.MtlsMode.PERMISSIVE, Map.of());

  private final EmbeddedChannel downChannel = new EmbeddedChannel();
  private final AtomicLong ticker = new AtomicLong(1_000_000_000L);
  private final List<EmbeddedChannel> dialed = new ArrayList<>();
  private final UpstreamPool pool = new UpstreamPool(downChannel.eventLoop(), (host, source) -> {
    EmbeddedChannel ch = new EmbeddedChannel();
    ch.config().setAutoRead(false);
    dialed.add(ch);
    return downChannel.eventLoop().newSucceededFuture(ch);
  }, 1000, ticker::get);
  private final Clusters clusters = new Clusters();
  private final RecordingDownstream down = new RecordingDownstream();
  private final HttpExchange exchange;

  HttpExchangeTest() {
    ClusterRuntime cluster = clusters.findOrCreate(new ClusterSpec(NAME, ClusterSpec.LbAlgorithm.ROUND_ROBIN,
        Duration.ofSeconds(1), ClusterSpec.Breaker.DEFAULTS, null),
        List.of(new EndpointSpec("127.0.73.10", 8080, null, null, null, false, "d/web", null, 1)));
    assertThat(cluster.hosts()).hasSize(1);
    RouteTable table = new RouteTable(NAME, List.of(new RouteTable.VirtualHost(NAME, Set.of("*"), List.of(
        new RouteTable.Rule("all", new RouteTable.Match(null, "/", null, List.of()),
            new RouteTable.Action(List.of(new RouteTable.WeightedCluster(NAME, 1)), null, null, null, false))))));
    ProxyConfig config = new ProxyConfig(0, List.of(), Map.of(), Map.of(), Map.of(NAME, table), Map.of(),
        PathNormalization.DEFAULTS);
    HttpContext cx = new HttpContext(() -> config, clusters, pool, NAME, SOURCE, "127.0.0.1",
        UpstreamPool.Protocol.HTTP1, ticker::get, HttpLimits.DEFAULTS, null, false, Telemetry.disabled(), null);
    exchange = new HttpExchange(down, cx);
  }

  @AfterEach
  void noLeaks() {
    pool.close();
    dialed.forEach(EmbeddedChannel::finishAndReleaseAll);
    downChannel.finishAndReleaseAll();
    LeakRecorder.assertNoLeaks();
  }

  /** The downstream side: what the exchange asks of it. */
  private final class RecordingDownstream implements HttpExchange.Downstream {
    int reads;
    Boolean doneKeepAlive;
    boolean aborted;

    @Override
    public Channel channel() {
      return downChannel;
    }

    @Override
    public void read() {
      reads++;
    }

    @Override
    public void done(boolean keepAlive, ChannelFuture lastWrite) {
      doneKeepAlive = keepAlive;
    }

    @Override
    public void abort() {
      aborted = true;
    }
  }

  private void startGet() {
    DefaultFullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/a");
    req.headers().set(HttpHeaderNames.HOST, "web");
    exchange.start(req);
  }

  /** The request as the upstream received it. */
  private String sentUpstream(EmbeddedChannel up) {
    StringBuilder b = new StringBuilder();
    ByteBuf buf;
    while ((buf = up.readOutbound()) != null) {
      b.append(buf.toString(StandardCharsets.US_ASCII));
      buf.release();
    }
    return b.toString();
  }

  @Test
  void aResponseMovesTheExchangeFromRequestToResponseToDone() {
    startGet();
    assertThat(exchange.phase()).isEqualTo(ExchangePhase.REQUEST);
    assertThat(dialed).hasSize(1);
    EmbeddedChannel up = dialed.getFirst();
    assertThat(sentUpstream(up)).startsWith("GET /a HTTP/1.1\r\n");

    up.writeInbound(ascii("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"));
    assertThat(exchange.phase()).isEqualTo(ExchangePhase.RESPONSE);
    Object head = downChannel.readOutbound();
    try {
      assertThat(((HttpResponse) head).status().code()).isEqualTo(200);
    } finally {
      ReferenceCountUtil.release(head);
    }
    assertThat(down.doneKeepAlive).isNull();

    up.writeInbound(ascii("ok"));
    assertThat(exchange.phase()).isEqualTo(ExchangePhase.DONE);
    assertThat(exchange.finished()).isTrue();
    assertThat(down.doneKeepAlive).isTrue();
    Object body = downChannel.readOutbound();
    try {
      assertThat(body).isInstanceOf(LastHttpContent.class);
      assertThat(((HttpContent) body).content().toString(StandardCharsets.US_ASCII)).isEqualTo("ok");
    } finally {
      ReferenceCountUtil.release(body);
    }
    assertThat(up.isOpen()).as("kept alive for the next request").isTrue();
    assertThat(pool.tryAcquireIdle(clusters.find(NAME), clusters.find(NAME).hosts().getFirst(), SOURCE,
        UpstreamPool.Protocol.HTTP1)).isNotNull();
  }

  @Test
  void anUpstreamClosedBeforeItsResponseHeadEndsTheExchangeWithALocalReply() {
    startGet();
    EmbeddedChannel up = dialed.getFirst();
    sentUpstream(up);

    up.close();

    assertThat(exchange.phase()).isEqualTo(ExchangePhase.DONE);
    Object reply = downChannel.readOutbound();
    try {
      assertThat(reply).isInstanceOf(FullHttpResponse.class);
      FullHttpResponse r = (FullHttpResponse) reply;
      assertThat(r.status().code()).isEqualTo(503);
      assertThat(r.headers().get(HeaderHygiene.FLAGS)).isEqualTo("UC");
    } finally {
      ReferenceCountUtil.release(reply);
    }
    assertThat(down.doneKeepAlive).isNotNull();
    assertThat(pool.connections()).isZero();
  }

  @Test
  void aDownstreamThatGoesAwayEndsTheExchangeBeforeAnyResponseAndClosesTheUpstream() {
    startGet();
    EmbeddedChannel up = dialed.getFirst();
    sentUpstream(up);

    exchange.onDownstreamClosed();

    assertThat(exchange.phase()).isEqualTo(ExchangePhase.DONE);
    assertThat(up.isOpen()).as("a half-sent exchange cannot be reused").isFalse();
    assertThat(pool.connections()).isZero();
    assertThat((Object) downChannel.readOutbound()).isNull();
  }

  @Test
  void aRequestContentAfterTheEndIsReleased() {
    startGet();
    exchange.onDownstreamClosed();
    LastHttpContent late = new DefaultLastHttpContent(ascii("late"));

    exchange.onRequestContent(late);

    assertThat(late.refCnt()).isZero();
  }

  @Test
  void phasesOnlyMoveForwards() {
    assertThat(ExchangePhase.REQUEST.to(ExchangePhase.RESPONSE)).isEqualTo(ExchangePhase.RESPONSE);
    assertThat(ExchangePhase.REQUEST.to(ExchangePhase.DONE)).isEqualTo(ExchangePhase.DONE);
    assertThat(ExchangePhase.RESPONSE.to(ExchangePhase.RESPONSE)).isEqualTo(ExchangePhase.RESPONSE);
    assertThat(ExchangePhase.DONE.to(ExchangePhase.DONE)).isEqualTo(ExchangePhase.DONE);
    assertThatThrownBy(() -> ExchangePhase.DONE.to(ExchangePhase.RESPONSE))
        .hasMessage("exchange phase: DONE -> RESPONSE (expected: forwards only)");
    assertThatThrownBy(() -> ExchangePhase.RESPONSE.to(ExchangePhase.REQUEST)).isInstanceOf(IllegalStateException.class);
  }

  private static ByteBuf ascii(String s) {
    return Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII);
  }
}
