package dev.trellis.proxy.observe;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.trellis.proxy.testing.LeakRecorder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.DefaultHttp2FrameWriter;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2Settings;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Fuzzes the destination's passive observer on HTTP/2 (and gRPC) connections: {@link HttpObserverHandler} with
 * {@link Http2Observation} and its two {@link Http2Scanner}s (frame headers, padding, CONTINUATION, HPACK). The input is
 * a {@link TwoWayInput} whose client bytes get HTTP/2's connection preface in front, so the fuzzer works on frames;
 * what must hold is {@link ObservedConnection}'s contract. The seeds are real frames from Netty's frame writer.
 */
class Http2ObserverFuzzTest {

  @MethodSource("seeds")
  @FuzzTest
  void frames(byte[] input) {
    ObservedConnection.run(TwoWayInput.parse(input).withClientPrefix(preface()));
  }

  @AfterAll
  static void noLeaks() {
    LeakRecorder.assertNoLeaks();
  }

  private static byte[] preface() {
    ByteBuf p = Http2CodecUtil.connectionPrefaceBuf();
    try {
      return ByteBufUtil.getBytes(p);
    } finally {
      p.release();
    }
  }

  /** Exchanges with every frame type the scanner reads, written by Netty (HPACK with Huffman and a dynamic table). */
  static Stream<byte[]> seeds() {
    Wire client = new Wire();
    Wire server = new Wire();
    byte[] grpcRequest = client.bytes(c -> {
      client.writer.writeSettings(c, new Http2Settings(), c.newPromise());
      client.writer.writeHeaders(c, 1, request("POST", "/demo.Greeter/SayHello"), 0, false, c.newPromise());
      client.writer.writeData(c, 1, Unpooled.wrappedBuffer(new byte[] {0, 0, 0, 0, 2, 10, 0}), 0, true, c.newPromise());
      client.writer.writeHeaders(c, 3, request("GET", "/padded"), 0, (short) 16, false, 7, true, c.newPromise());
      client.writer.writeRstStream(c, 3, Http2Error.CANCEL.code(), c.newPromise());
      client.writer.writePing(c, false, 42, c.newPromise());
      client.writer.writeWindowUpdate(c, 0, 65535, c.newPromise());
    });
    byte[] grpcResponse = server.bytes(c -> {
      server.writer.writeSettings(c, new Http2Settings(), c.newPromise());
      server.writer.writeSettingsAck(c, c.newPromise());
      server.writer.writeHeaders(c, 1, new DefaultHttp2Headers().status("200").add("content-type", "application/grpc"),
          0, false, c.newPromise());
      server.writer.writePushPromise(c, 1, 2, new DefaultHttp2Headers().method("GET").path("/pushed")
          .scheme("http").authority("web"), 0, c.newPromise());
      server.writer.writeData(c, 1, Unpooled.wrappedBuffer(new byte[] {0, 0, 0, 0, 3, 10, 1, 'x'}), 4, false,
          c.newPromise());
      server.writer.writeHeaders(c, 1, new DefaultHttp2Headers().add("grpc-status", "0"), 0, true, c.newPromise());
      server.writer.writeGoAway(c, 1, Http2Error.NO_ERROR.code(), Unpooled.EMPTY_BUFFER, c.newPromise());
    });
    byte[] continued = client.bytes(c -> {
      client.writer.writeHeaders(c, 5, request("GET", "/interim"), 0, true, c.newPromise());
    });
    byte[] split = continuation(7, request("DELETE", "/split/over/continuation"));
    byte[] interim = server.bytes(c -> {
      server.writer.writeHeaders(c, 5, new DefaultHttp2Headers().status("100"), 0, false, c.newPromise());
      server.writer.writeHeaders(c, 5, new DefaultHttp2Headers().status("204"), 0, true, c.newPromise());
      server.writer.writeRstStream(c, 7, Http2Error.REFUSED_STREAM.code(), c.newPromise());
    });
    return Stream.of(
        input("", grpcRequest, grpcResponse),
        input("1", grpcRequest, grpcResponse),
        input("9,3,50", concat(grpcRequest, continued, split), concat(grpcResponse, interim)),
        input("", concat(grpcRequest, continued, split), new byte[0]));
  }

  private static Http2Headers request(String method, String path) {
    return new DefaultHttp2Headers().method(method).scheme("http").authority("web.d.svc.cluster.local:8080").path(path)
        .add("content-type", "application/grpc").add("te", "trailers")
        .add("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  }

  /** A HEADERS frame and a CONTINUATION frame carrying one header block (literals only: no dynamic table use). */
  private static byte[] continuation(int stream, Http2Headers headers) {
    ByteBuf block = Unpooled.buffer();
    try {
      new DefaultHttp2HeadersEncoder((name, value) -> true).encodeHeaders(stream, headers, block); // never indexed
    } catch (Http2Exception e) {
      throw new IllegalStateException(e);
    }
    byte[] b = ByteBufUtil.getBytes(block);
    block.release();
    int half = b.length / 2;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    frameHeader(out, half, 0x1, 0x1, stream); // HEADERS, END_STREAM, not END_HEADERS
    out.write(b, 0, half);
    frameHeader(out, b.length - half, 0x9, 0x4, stream); // CONTINUATION, END_HEADERS
    out.write(b, half, b.length - half);
    return out.toByteArray();
  }

  private static void frameHeader(ByteArrayOutputStream out, int length, int type, int flags, int stream) {
    out.write(length >>> 16);
    out.write(length >>> 8);
    out.write(length);
    out.write(type);
    out.write(flags);
    out.write(stream >>> 24);
    out.write(stream >>> 16);
    out.write(stream >>> 8);
    out.write(stream);
  }

  private static byte[] input(String cuts, byte[] client, byte[] server) {
    return concat(cuts.getBytes(StandardCharsets.US_ASCII), new byte[] {'\n'}, client,
        "\n=====\n".getBytes(StandardCharsets.US_ASCII), server);
  }

  private static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return out.toByteArray();
  }

  /** Frames as one direction's writer puts them on the wire (its own HPACK encoder, kept across calls). */
  private static final class Wire {
    final DefaultHttp2FrameWriter writer = new DefaultHttp2FrameWriter();
    private final EmbeddedChannel out = new EmbeddedChannel(new ChannelInboundHandlerAdapter());

    byte[] bytes(Consumer<ChannelHandlerContext> frames) {
      frames.accept(out.pipeline().firstContext());
      out.flush();
      ByteArrayOutputStream all = new ByteArrayOutputStream();
      for (ByteBuf b; (b = out.readOutbound()) != null; b.release()) {
        all.writeBytes(ByteBufUtil.getBytes(b));
      }
      return all.toByteArray();
    }
  }
}
