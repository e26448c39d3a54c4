package dev.trellis.proxy.tunnel;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.DefaultHttp2PingFrame;
import io.netty.handler.codec.http2.DefaultHttp2SettingsFrame;
import io.netty.handler.codec.http2.Http2PingFrame;
import io.netty.handler.codec.http2.Http2Settings;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class HboneKeepAliveHandlerTest {

  /** A channel whose clock moves only when the test advances it (a loaded machine must not age its timers). */
  private static EmbeddedChannel frozen(HboneKeepAliveHandler handler) {
    EmbeddedChannel ch = new EmbeddedChannel();
    ch.freezeTime();
    ch.pipeline().addLast(handler);
    return ch;
  }

  @Test
  void aQuietConnectionIsPingedAndAnAnsweredPingKeepsItOpen() {
    EmbeddedChannel ch = frozen(new HboneKeepAliveHandler(1000));
    ch.advanceTimeBy(999, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    assertThat((Object) ch.readOutbound()).as("nothing before the interval").isNull();

    ch.advanceTimeBy(2, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    Http2PingFrame ping = ch.readOutbound();
    assertThat(ping.ack()).isFalse();

    ch.writeInbound(new DefaultHttp2PingFrame(ping.content(), true));
    assertThat((Object) ch.readInbound()).as("our own PING's ACK is not passed on").isNull();
    ch.advanceTimeBy(1001, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    assertThat(ch.isOpen()).isTrue();
    Http2PingFrame second = ch.readOutbound();
    assertThat(second.content()).isNotEqualTo(ping.content());
    assertThat(ch.finishAndReleaseAll()).isFalse();
  }

  @Test
  void anUnansweredPingClosesTheConnection() {
    EmbeddedChannel ch = frozen(new HboneKeepAliveHandler(1000));
    ch.advanceTimeBy(1001, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    assertThat((Object) ch.readOutbound()).isInstanceOf(Http2PingFrame.class);
    ch.advanceTimeBy(1001, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    assertThat(ch.isOpen()).isFalse();
  }

  @Test
  void anyFrameFromThePeerCountsAsAnAnswerAndIsPassedOn() {
    EmbeddedChannel ch = frozen(new HboneKeepAliveHandler(1000));
    ch.advanceTimeBy(1001, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    assertThat((Object) ch.readOutbound()).isInstanceOf(Http2PingFrame.class);
    ch.writeInbound(new DefaultHttp2SettingsFrame(Http2Settings.defaultSettings()));
    assertThat((Object) ch.readInbound()).isInstanceOf(DefaultHttp2SettingsFrame.class);
    ch.advanceTimeBy(1001, TimeUnit.MILLISECONDS);
    ch.runScheduledPendingTasks();
    assertThat(ch.isOpen()).as("the settings frame answered for the peer").isTrue();
    ch.finishAndReleaseAll();
  }
}
