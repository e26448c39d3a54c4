package dev.trellis.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.proxy.cluster.Clusters;
import dev.trellis.proxy.testing.LeakRecorder;
import dev.trellis.telemetry.Telemetry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A downstream HTTP connection's first handler on frozen time (the embedded loop's clock and the sweep's ticker move
 * together): the HTTP/1.1 pipeline is built once, at accept; the HTTP/2 preface replaces it; and the first-byte, header
 * and idle deadlines fire from the event loop's one sweep, not before their time and within 1.25 times it.
 */
class HttpSniffHandlerTest {

  private static final Duration FIRST_BYTE = Duration.ofSeconds(4);
  private static final Duration HEADERS = Duration.ofSeconds(8);
  private static final Duration IDLE = Duration.ofSeconds(40);
  private static final String PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

  private final EmbeddedChannel ch = new EmbeddedChannel();
  private final AtomicLong now = new AtomicLong(1_000_000_000L);
  private final UpstreamPool pool = new UpstreamPool(ch.eventLoop(),
      (host, source) -> ch.eventLoop().newFailedFuture(new IllegalStateException("no upstream in this test")), 1000,
      now::get);
  private final List<UpstreamPool.Protocol> told = new ArrayList<>();

  HttpSniffHandlerTest() {
    ch.freezeTime();
    ch.config().setAutoRead(false);
    HttpLimits limits = new HttpLimits(HEADERS, IDLE).withFirstByteTimeout(FIRST_BYTE);
    HttpContext cx = new HttpContext(() -> null, new Clusters(), pool, "r", null, "127.0.0.1",
        UpstreamPool.Protocol.HTTP1, now::get, limits, null, false, Telemetry.disabled(), null);
    HttpSniffHandler.install(ch, cx, told::add);
  }

  @AfterEach
  void noLeaks() {
    pool.close();
    ch.finishAndReleaseAll();
    LeakRecorder.assertNoLeaks();
  }

  @Test
  void theHttp1PipelineIsBuiltOnceAtAcceptAndStaysAfterTheFirstBytes() {
    assertThat(ch.pipeline().names()).startsWith("timers", "http", "exchange");
    assertThat(pool.downstreams().size()).isEqualTo(1);
    ch.writeInbound(ascii("GET / HTTP/1.1\r\nHost: a\r\n"));
    assertThat(ch.pipeline().names()).startsWith("timers", "http", "exchange");
    assertThat(told).containsExactly(UpstreamPool.Protocol.HTTP1);
  }

  @Test
  void aSilentConnectionIsClosedAfterTheFirstByteTimeoutAndNotBefore() {
    pass(FIRST_BYTE.minusMillis(1));
    assertThat(ch.isActive()).isTrue();
    pass(FIRST_BYTE.dividedBy(4));
    assertThat(ch.isActive()).as("closed within 1.25 times the first-byte timeout").isFalse();
    assertThat(pool.downstreams().size()).isZero();
    assertThat(pool.downstreams().running()).isFalse();
  }

  @Test
  void partOfThePrefaceIsNoProtocolYetSoTheFirstByteTimeoutStillApplies() {
    ch.writeInbound(ascii("PRI * HTTP/2.0\r\n"));
    assertThat(told).isEmpty();
    pass(FIRST_BYTE.plus(FIRST_BYTE.dividedBy(4)));
    assertThat(ch.isActive()).isFalse();
  }

  @Test
  void slowHeadersGet408AfterTheHeaderTimeoutFromTheirFirstByte() {
    pass(FIRST_BYTE.minusMillis(1)); // the first byte just in time
    ch.writeInbound(ascii("GET / HTTP/1.1\r\nHo"));
    pass(HEADERS.minusMillis(1));
    assertThat((Object) ch.readOutbound()).isNull();
    assertThat(ch.isActive()).isTrue();
    pass(HEADERS.dividedBy(4));
    ByteBuf out = ch.readOutbound();
    try {
      assertThat(out.toString(StandardCharsets.US_ASCII)).startsWith("HTTP/1.1 408 ");
    } finally {
      out.release();
    }
    ch.runPendingTasks();
    assertThat(ch.isActive()).isFalse();
  }

  @Test
  void aConnectionIdleBetweenRequestsIsClosedAfterTheIdleTimeout() {
    ch.writeInbound(ascii("GET / HTTP/1.1\r\nHost: a\r\n"));
    HttpSniffHandler timers = (HttpSniffHandler) ch.pipeline().get("timers");
    timers.requestStarted(); // as Http1DownstreamHandler says once the headers are in
    pass(HEADERS.multipliedBy(2));
    assertThat(ch.isActive()).as("no deadline while a request is in progress").isTrue();
    timers.awaitingRequest();
    pass(IDLE.minusMillis(1));
    assertThat(ch.isActive()).isTrue();
    pass(HEADERS.dividedBy(4)); // the sweep's period: a quarter of the shortest limit
    assertThat(ch.isActive()).isFalse();
  }

  @Test
  void thePrefaceReplacesTheHttp1HandlersWithHttp2s() {
    ch.writeInbound(ascii(PREFACE));
    assertThat(told).containsExactly(UpstreamPool.Protocol.HTTP2);
    assertThat(ch.pipeline().names()).doesNotContain("timers", "http", "exchange").contains("h2", "idle", "streams");
    assertThat(pool.downstreams().size()).as("HTTP/2 keeps its own deadlines").isZero();
    ByteBuf settings = ch.readOutbound();
    try {
      assertThat(settings.getByte(3)).as("the server's SETTINGS frame").isEqualTo((byte) 4);
    } finally {
      settings.release();
    }
    pass(FIRST_BYTE.multipliedBy(2));
    assertThat(ch.isActive()).isTrue();
  }

  @Test
  void aPrefaceInPiecesIsStillHttp2() {
    ch.writeInbound(ascii("PRI * HTT"));
    assertThat(ch.pipeline().names()).startsWith("timers", "http", "exchange");
    ch.writeInbound(ascii("P/2.0\r\n\r\nSM\r\n\r\n"));
    assertThat(told).containsExactly(UpstreamPool.Protocol.HTTP2);
    assertThat(ch.pipeline().names()).contains("h2").doesNotContain("http");
  }

  @Test
  void aStartLikeThePrefaceThatTurnsOutOtherwiseIsHttp1WithEveryByte() {
    ch.writeInbound(ascii("PRI"));
    ch.writeInbound(ascii("NT / HTTP/1.1\r\n"));
    assertThat(told).containsExactly(UpstreamPool.Protocol.HTTP1);
    assertThat(ch.pipeline().names()).startsWith("timers", "http", "exchange");
  }

  @Test
  void aClientThatClosesItsSideBeforeSayingAnythingIsClosedAtOnce() {
    ch.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
    ch.runPendingTasks();
    assertThat(ch.isActive()).isFalse();
  }

  private void pass(Duration d) {
    long nanos = d.toNanos();
    now.addAndGet(nanos);
    ch.advanceTimeBy(nanos, TimeUnit.NANOSECONDS);
    ch.runScheduledPendingTasks();
    ch.runPendingTasks();
  }

  private static ByteBuf ascii(String s) {
    return Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII);
  }
}
