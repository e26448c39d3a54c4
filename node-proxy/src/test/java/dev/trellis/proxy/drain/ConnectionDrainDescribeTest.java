package dev.trellis.proxy.drain;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import org.junit.jupiter.api.Test;

/** The drain timeout names what it closes: the log line an operator reads to find who held the old proxy. */
class ConnectionDrainDescribeTest {

  @Test
  void anHttp2ConnectionIsNamedWithItsOpenStreams() {
    EmbeddedChannel ch = new EmbeddedChannel(Http2FrameCodecBuilder.forServer().build());
    try {
      assertThat(ConnectionDrain.describe(ch)).endsWith(", HTTP/2 with 0 open streams");
    } finally {
      ch.finishAndReleaseAll();
    }
  }

  @Test
  void anHttp11ConnectionIsNamedAsSuch() {
    EmbeddedChannel ch = new EmbeddedChannel(new HttpServerCodec());
    try {
      assertThat(ConnectionDrain.describe(ch)).endsWith(", HTTP/1.1 with a request in flight");
    } finally {
      ch.finishAndReleaseAll();
    }
  }

  @Test
  void anythingElseIsAByteStreamWithItsAddresses() {
    EmbeddedChannel ch = new EmbeddedChannel();
    try {
      assertThat(ConnectionDrain.describe(ch))
          .isEqualTo(ch.remoteAddress() + " -> " + ch.localAddress() + ", a byte stream (TCP relay, or not yet identified)");
    } finally {
      ch.finishAndReleaseAll();
    }
  }
}
