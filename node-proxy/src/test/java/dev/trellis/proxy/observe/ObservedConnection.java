package dev.trellis.proxy.observe;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.proxy.testing.RecordingTelemetry;
import dev.trellis.proxy.testing.TrackingAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Drives an {@link HttpObserverHandler} on an embedded workload connection with a fuzzed exchange: the client's bytes
 * are written toward the workload and the server's read from it, piece by piece. Whatever the bytes, the handler
 * relays them (the server's unchanged, the client's changed at most inside a {@code traceparent} value), throws
 * nothing, ends every exchange it started exactly once (one span per access-log line), and releases every buffer it
 * allocated.
 */
final class ObservedConnection {

  private static final String CALLER = "spiffe://cluster.local/ns/d/sa/client";
  private static final LocalWorkload WEB = new LocalWorkload("web-0", "d",
      SpiffeId.parse("spiffe://cluster.local/ns/d/sa/web"), List.of("127.0.0.1"), true,
      LocalWorkload.MtlsMode.STRICT, Map.of(), List.of(), Map.of(8080, "http"));
  /**
   * One telemetry for every input of a run (building an SDK per input would dominate the fuzzing time); every span is
   * sampled, whatever the traceparent's flags say, so that each exchange shows as a span.
   */
  private static final RecordingTelemetry TELEMETRY = new RecordingTelemetry(Sampler.alwaysOn());

  private ObservedConnection() {}

  static void run(TwoWayInput in) {
    TrackingAllocator alloc = new TrackingAllocator();
    List<String> unobserved = new ArrayList<>();
    EmbeddedChannel workload = new EmbeddedChannel();
    workload.config().setAllocator(alloc);
    workload.pipeline().addLast(new HttpObserverHandler(TELEMETRY, WEB, CALLER, unobserved::add));
    ByteArrayOutputStream toWorkload = new ByteArrayOutputStream();
    ByteArrayOutputStream toCaller = new ByteArrayOutputStream();
    try {
      for (TwoWayInput.Piece p : in.pieces()) {
        ByteBuf b = alloc.copyOf(p.bytes(), p.from(), p.length());
        if (p.fromClient()) {
          workload.writeOutbound(b);
        } else {
          workload.writeInbound(b);
        }
        drain(workload, toWorkload, toCaller);
      }
      workload.close();
      drain(workload, toWorkload, toCaller);
      workload.checkException();
    } finally {
      workload.finishAndReleaseAll();
    }
    alloc.assertAllReleased();

    assertThat(toCaller.toByteArray()).as("the server's bytes, unchanged").isEqualTo(in.server());
    assertChangedOnlyInTraceparent(in.client(), toWorkload.toByteArray());
    int spans = TELEMETRY.spans.getFinishedSpanItems().size();
    int lines = TELEMETRY.accessLog.size();
    TELEMETRY.spans.reset();
    TELEMETRY.accessLog.clear();
    TELEMETRY.measurements.clear();
    assertThat(lines).as("access-log lines, one per span (unobserved: %s)", unobserved).isEqualTo(spans);
  }

  private static void drain(EmbeddedChannel ch, ByteArrayOutputStream toWorkload, ByteArrayOutputStream toCaller) {
    for (ByteBuf b; (b = ch.readOutbound()) != null; b.release()) {
      toWorkload.writeBytes(io.netty.buffer.ByteBufUtil.getBytes(b));
    }
    for (ByteBuf b; (b = ch.readInbound()) != null; b.release()) {
      toCaller.writeBytes(io.netty.buffer.ByteBufUtil.getBytes(b));
    }
  }

  /** The observer may put its span into a traceparent value in place; no other byte changes, none is added. */
  private static void assertChangedOnlyInTraceparent(byte[] sent, byte[] received) {
    assertThat(received).as("the client's bytes, as long as sent").hasSameSizeAs(sent);
    String lower = new String(sent, StandardCharsets.ISO_8859_1).toLowerCase(Locale.ROOT);
    for (int i = 0; i < sent.length; i++) {
      if (sent[i] != received[i]) {
        int name = lower.lastIndexOf("traceparent", i);
        assertThat(name >= 0 && i - name < 80)
            .as("byte %d of the client's bytes changed outside a traceparent value", i).isTrue();
      }
    }
  }
}
