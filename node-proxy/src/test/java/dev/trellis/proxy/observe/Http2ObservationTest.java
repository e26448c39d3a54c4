package dev.trellis.proxy.observe;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.proxy.testing.RecordingTelemetry;
import dev.trellis.telemetry.attributes.MeshAttributes;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.DefaultHttp2FrameWriter;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2Settings;
import io.opentelemetry.api.trace.SpanKind;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The destination's passive observer on an HTTP/2 (gRPC) workload connection: real frames from Netty's HPACK frame
 * writer (Huffman coding and a dynamic table shared across streams), fed in pieces of any size. Each stream is one
 * SERVER span with its status and gRPC status; resets and a closing connection end streams as reset; the bytes
 * pass unchanged.
 */
class Http2ObservationTest {

  private static final String CALLER = "spiffe://cluster.local/ns/d/sa/client";
  private static final LocalWorkload GREETER = new LocalWorkload("greeter-0", "d",
      SpiffeId.parse("spiffe://cluster.local/ns/d/sa/greeter"), List.of("127.0.0.1"), true,
      LocalWorkload.MtlsMode.STRICT, Map.of(), List.of(), Map.of(50051, "grpc"));

  private final RecordingTelemetry telemetry = new RecordingTelemetry();
  private final List<String> unobserved = new ArrayList<>();
  private final EmbeddedChannel workload =
      new EmbeddedChannel(new HttpObserverHandler(telemetry, GREETER, CALLER, unobserved::add));

  @AfterEach
  void close() {
    workload.finishAndReleaseAll();
    telemetry.close();
  }

  /** The bytes a frame writer produces for {@code frames}, on its own HPACK encoder per direction. */
  private static final class Wire {
    private final DefaultHttp2FrameWriter writer = new DefaultHttp2FrameWriter();
    private final EmbeddedChannel out = new EmbeddedChannel(new ChannelInboundHandlerAdapter());

    byte[] bytes(Consumer<ChannelHandlerContext> frames) {
      frames.accept(out.pipeline().firstContext());
      out.flush();
      ByteBuf all = Unpooled.buffer();
      for (ByteBuf b; (b = out.readOutbound()) != null; b.release()) {
        all.writeBytes(b);
      }
      byte[] bytes = new byte[all.readableBytes()];
      all.readBytes(bytes);
      all.release();
      return bytes;
    }
  }

  private static Http2Headers request(String method) {
    return new DefaultHttp2Headers().method("POST").scheme("http").authority("greeter.d.svc.cluster.local:50051")
        .path("/demo.Greeter/" + method).add("content-type", "application/grpc").add("te", "trailers")
        .add("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  }

  /** Feeds {@code bytes} in pieces of {@code split}; returns what passed, for comparison. */
  private byte[] feed(byte[] bytes, int split, boolean toWorkload) {
    ByteBuf passed = Unpooled.buffer();
    for (int i = 0; i < bytes.length; i += split) {
      ByteBuf piece = Unpooled.copiedBuffer(bytes, i, Math.min(split, bytes.length - i));
      if (toWorkload) {
        workload.writeAndFlush(piece);
      } else {
        workload.writeInbound(piece);
      }
      for (ByteBuf b; (b = toWorkload ? workload.readOutbound() : workload.readInbound()) != null; b.release()) {
        passed.writeBytes(b);
      }
    }
    byte[] out = new byte[passed.readableBytes()];
    passed.readBytes(out);
    passed.release();
    return out;
  }

  @ParameterizedTest(name = "split every {0} bytes")
  @ValueSource(ints = {1, 3, 10, 100000})
  void grpcCallsOnOneConnectionEachBecomeAServerSpanWithTheirStatuses(int split) {
    Wire client = new Wire();
    Wire server = new Wire();
    byte[] preface = Http2CodecUtil.connectionPrefaceBuf().toString(StandardCharsets.US_ASCII)
        .getBytes(StandardCharsets.US_ASCII);
    byte[] requests = client.bytes(ctx -> {
      client.writer.writeSettings(ctx, new Http2Settings(), ctx.newPromise());
      client.writer.writeHeaders(ctx, 1, request("SayHello"), 0, false, ctx.newPromise());
      client.writer.writeData(ctx, 1, Unpooled.wrappedBuffer(new byte[12]), 0, true, ctx.newPromise());
      client.writer.writeHeaders(ctx, 3, request("SayHello"), 0, true, ctx.newPromise()); // HPACK: indexed now
      client.writer.writeHeaders(ctx, 5, request("Slow"), 0, true, ctx.newPromise());
    });
    byte[] all = new byte[preface.length + requests.length];
    System.arraycopy(preface, 0, all, 0, preface.length);
    System.arraycopy(requests, 0, all, preface.length, requests.length);
    assertThat(feed(all, split, true)).isEqualTo(all);

    byte[] responses = server.bytes(ctx -> {
      server.writer.writeSettings(ctx, new Http2Settings(), ctx.newPromise());
      server.writer.writeHeaders(ctx, 1, new DefaultHttp2Headers().status("200").add("content-type",
          "application/grpc"), 0, false, ctx.newPromise());
      server.writer.writeData(ctx, 1, Unpooled.wrappedBuffer(new byte[20]), 0, false, ctx.newPromise());
      server.writer.writeHeaders(ctx, 1, new DefaultHttp2Headers().add("grpc-status", "0"), 0, true, ctx.newPromise());
      // a trailers-only answer: status and grpc-status in one block
      server.writer.writeHeaders(ctx, 3, new DefaultHttp2Headers().status("200").add("content-type",
          "application/grpc").add("grpc-status", "14"), 0, true, ctx.newPromise());
      server.writer.writeRstStream(ctx, 5, Http2Error.CANCEL.code(), ctx.newPromise());
    });
    assertThat(feed(responses, split, false)).isEqualTo(responses);

    assertThat(telemetry.spans.getFinishedSpanItems()).extracting(s -> s.getKind() + " " + s.getName() + " "
            + s.getAttributes().get(MeshAttributes.RPC_GRPC_STATUS_CODE) + " " + s.getParentSpanContext().getSpanId())
        .containsExactly(
            "SERVER demo.Greeter/SayHello 0 00f067aa0ba902b7",
            "SERVER demo.Greeter/SayHello 14 00f067aa0ba902b7",
            "SERVER demo.Greeter/Slow null 00f067aa0ba902b7");
    assertThat(telemetry.accessLog).extracting(e -> e.protocol() + " " + e.path() + " " + e.status() + " "
            + e.grpcStatus() + " " + e.error() + " " + e.bytesReceived() + " " + e.bytesSent())
        .containsExactly("gRPC /demo.Greeter/SayHello 200 0 null 12 20",
            "gRPC /demo.Greeter/SayHello 200 14 null 0 0",
            "HTTP/2 /demo.Greeter/Slow null null reset 0 0");
    assertThat(telemetry.spans.getFinishedSpanItems()).allSatisfy(s -> assertThat(s.getKind()).isEqualTo(SpanKind.SERVER));
    assertThat(unobserved).isEmpty();
  }

  @ParameterizedTest(name = "split every {0} bytes")
  @ValueSource(ints = {1, 100000})
  void aConnectionThatClosesWithOpenStreamsRecordsThemAsReset(int split) {
    Wire client = new Wire();
    byte[] preface = Http2CodecUtil.connectionPrefaceBuf().toString(StandardCharsets.US_ASCII)
        .getBytes(StandardCharsets.US_ASCII);
    feed(preface, split, true);
    feed(client.bytes(ctx -> client.writer.writeHeaders(ctx, 1, request("SayHello"), 0, true, ctx.newPromise())),
        split, true);
    workload.close();
    assertThat(telemetry.accessLog).singleElement().satisfies(e -> assertThat(e.error()).isEqualTo("reset"));
  }

  @ParameterizedTest(name = "split every {0} bytes")
  @ValueSource(ints = {1, 100000})
  void aHeaderBlockInterruptedByAnotherFrameEndsTheObservation(int split) {
    byte[] preface = Http2CodecUtil.connectionPrefaceBuf().toString(StandardCharsets.US_ASCII)
        .getBytes(StandardCharsets.US_ASCII);
    byte[] frames = {
        0, 0, 3, 0x1, 0x0, 0, 0, 0, 1, (byte) 0x82, (byte) 0x86, (byte) 0x84, // HEADERS, no END_HEADERS: GET http /
        0, 0, 3, 0x1, 0x5, 0, 0, 0, 3, (byte) 0x82, (byte) 0x86, (byte) 0x84}; // HEADERS where CONTINUATION must come
    byte[] all = new byte[preface.length + frames.length];
    System.arraycopy(preface, 0, all, 0, preface.length);
    System.arraycopy(frames, 0, all, preface.length, frames.length);
    assertThat(feed(all, split, true)).isEqualTo(all);
    // Found by fuzzing: the second HEADERS replaced the open block, whose buffer was never released.
    assertThat(unobserved).containsExactly("HTTP/2: header block interrupted by a frame of type 1");
  }

  @ParameterizedTest(name = "split every {0} bytes")
  @ValueSource(ints = {1, 100000})
  void aServerWhoseSettingsPassTheClientsPrefaceIsStillFollowed(int split) {
    Wire client = new Wire();
    Wire server = new Wire();
    byte[] settings = server.bytes(ctx -> server.writer.writeSettings(ctx, new Http2Settings(), ctx.newPromise()));
    assertThat(feed(settings, split, false)).as("relayed at once").isEqualTo(settings);
    feed(Http2CodecUtil.connectionPrefaceBuf().toString(StandardCharsets.US_ASCII).getBytes(StandardCharsets.US_ASCII),
        split, true);
    feed(client.bytes(ctx -> client.writer.writeHeaders(ctx, 1, request("SayHello"), 0, true, ctx.newPromise())),
        split, true);
    feed(server.bytes(ctx -> server.writer.writeHeaders(ctx, 1, new DefaultHttp2Headers().status("200")
        .add("grpc-status", "0"), 0, true, ctx.newPromise())), split, false);

    assertThat(telemetry.accessLog).singleElement().satisfies(e -> {
      assertThat(e.grpcStatus()).isZero();
      assertThat(e.error()).isNull();
    });
    assertThat(unobserved).isEmpty();
  }
}
