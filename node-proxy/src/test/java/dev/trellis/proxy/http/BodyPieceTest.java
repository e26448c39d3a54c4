package dev.trellis.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.proxy.testing.LeakRecorder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * An HTTP/1.1 body that arrives in one large read is handed on in pieces of up to {@link UpstreamPool#MAX_BODY_PIECE}
 * (not Netty's default 8 KiB), byte-exact, without copies that leak.
 */
class BodyPieceTest {

  @Test
  void aLargeResponseBodyReadAtOnceLeavesTheDecoderInPiecesOfUpTo64KiB() {
    UpstreamPool pool = new UpstreamPool(new EmbeddedChannel().eventLoop(),
        (host, source) -> { throw new AssertionError("no dial"); }, 1000, System::nanoTime);
    EmbeddedChannel ch = new EmbeddedChannel(new HttpClientCodec(pool.decoderConfig(), true, false));
    ch.writeOutbound(new io.netty.handler.codec.http.DefaultFullHttpRequest(
        io.netty.handler.codec.http.HttpVersion.HTTP_1_1, io.netty.handler.codec.http.HttpMethod.GET, "/big"));
    ReferenceCountUtil.release(ch.readOutbound());
    byte[] body = new byte[300 * 1024];
    new Random(7).nextBytes(body);
    ByteBuf wire = Unpooled.buffer();
    wire.writeCharSequence("HTTP/1.1 200 OK\r\ncontent-length: " + body.length + "\r\n\r\n", StandardCharsets.US_ASCII);
    wire.writeBytes(body);
    ch.writeInbound(wire);
    Object head = ch.readInbound();
    assertThat(head).isInstanceOf(HttpResponse.class);
    ReferenceCountUtil.release(head);
    List<Integer> pieces = new ArrayList<>();
    ByteBuf got = Unpooled.buffer(body.length);
    boolean last = false;
    for (Object m; (m = ch.readInbound()) != null; ) {
      HttpContent c = (HttpContent) m;
      pieces.add(c.content().readableBytes());
      got.writeBytes(c.content());
      last |= c instanceof LastHttpContent;
      c.release();
    }
    assertThat(last).isTrue();
    assertThat(pieces).hasSize(5).allMatch(n -> n <= UpstreamPool.MAX_BODY_PIECE);
    assertThat(pieces.getFirst()).isEqualTo(64 * 1024);
    byte[] out = new byte[got.readableBytes()];
    got.readBytes(out);
    got.release();
    assertThat(out).isEqualTo(body);
    assertThat(ch.finishAndReleaseAll()).isFalse();
    LeakRecorder.assertNoLeaks();
  }
}
