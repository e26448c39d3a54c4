package dev.trellis.proxy.observe;

import static dev.trellis.telemetry.attributes.MeshAttributes.DESTINATION_SERVICE;
import static dev.trellis.telemetry.attributes.MeshAttributes.DIRECTION;
import static dev.trellis.telemetry.attributes.MeshAttributes.NETWORK_IO_DIRECTION;
import static dev.trellis.telemetry.attributes.MeshAttributes.NETWORK_TRANSPORT;
import static dev.trellis.telemetry.attributes.MeshAttributes.SOURCE_NAMESPACE;
import static dev.trellis.telemetry.attributes.MeshAttributes.SOURCE_WORKLOAD;
import static dev.trellis.telemetry.attributes.MeshAttributes.UPSTREAM_CLUSTER;

import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.telemetry.Telemetry;
import dev.trellis.telemetry.accesslog.AccessLogEntry;
import dev.trellis.telemetry.metrics.MeshMetrics;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufHolder;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.common.AttributesBuilder;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import java.time.Instant;
import java.util.concurrent.TimeUnit;

/**
 * Telemetry of one proxied TCP connection, first in the downstream (client) pipeline: counts the bytes it
 * receives and transmits, and when the connection ends records {@code trellis.tcp.io} both ways, the closed
 * connection, a connection-level span (a root, sampled by ratio: TCP carries no trace context) and an access-log
 * line. Created once the upstream is connected (the opened connection is recorded then); a failed connect is
 * recorded by {@link #failed}.
 */
public final class TcpTelemetryHandler extends ChannelDuplexHandler {

  private final Telemetry telemetry;
  private final Attributes attributes;
  private final String service;
  private final String cluster;
  private final LocalWorkload source;
  private final Instant start = Instant.now();
  private final long startNanos = System.nanoTime();
  private final Span span;
  private long received;
  private long transmitted;
  private boolean ended;

  private TcpTelemetryHandler(Telemetry telemetry, LocalWorkload source, String service, String cluster) {
    this.telemetry = telemetry;
    this.source = source;
    this.service = service;
    this.cluster = cluster;
    this.attributes = attributes(source, service);
    this.span = telemetry.tracer().spanBuilder("tcp " + (service == null ? "passthrough" : service))
        .setSpanKind(SpanKind.CLIENT).setNoParent().setStartTimestamp(start).startSpan();
    telemetry.metrics().tcpConnection(attributes, MeshMetrics.ConnectionEvent.OPENED);
  }

  /** For a connection whose upstream is connected; records it as opened. */
  public static TcpTelemetryHandler opened(Telemetry telemetry, LocalWorkload source, String service, String cluster) {
    return new TcpTelemetryHandler(telemetry, source, service, cluster);
  }

  /** A connection whose upstream could not be reached (or was refused). */
  public static void failed(Telemetry telemetry, LocalWorkload source, String service, String reason) {
    telemetry.metrics().tcpConnection(attributes(source, service), MeshMetrics.ConnectionEvent.FAILED);
    telemetry.accessLog().log(new AccessLogEntry(Instant.now(), 0, null, null, "outbound", "TCP", null, null, null,
        null, null, null, 0, 0, null, null, 1, source == null ? null : source.name(),
        source == null || source.identity() == null ? null : source.identity().toString(), null, service, null, false,
        reason));
  }

  private static Attributes attributes(LocalWorkload source, String service) {
    AttributesBuilder a = Attributes.builder().put(DIRECTION, "outbound").put(NETWORK_TRANSPORT, "tcp");
    if (source != null) {
      a.put(SOURCE_WORKLOAD, source.name()).put(SOURCE_NAMESPACE, source.namespace());
    }
    if (service != null) {
      a.put(DESTINATION_SERVICE, service);
    }
    return a.build();
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    received += size(msg);
    ctx.fireChannelRead(msg);
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    transmitted += size(msg);
    ctx.write(msg, promise);
  }

  private static long size(Object msg) {
    if (msg instanceof ByteBuf b) {
      return b.readableBytes();
    }
    return msg instanceof ByteBufHolder h ? h.content().readableBytes() : 0;
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    end();
    ctx.fireChannelInactive();
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    end();
  }

  private void end() {
    if (ended) {
      return;
    }
    ended = true;
    long nanos = System.nanoTime() - startNanos;
    telemetry.metrics().tcpBytes(attributes.toBuilder().put(NETWORK_IO_DIRECTION, "receive").build(), false, received);
    telemetry.metrics().tcpBytes(attributes.toBuilder().put(NETWORK_IO_DIRECTION, "transmit").build(), true,
        transmitted);
    telemetry.metrics().tcpConnection(attributes, MeshMetrics.ConnectionEvent.CLOSED);
    if (span.isRecording()) {
      span.setAllAttributes(attributes);
      if (cluster != null) {
        span.setAttribute(UPSTREAM_CLUSTER, cluster);
      }
      span.setAttribute("trellis.tcp.bytes_received", received);
      span.setAttribute("trellis.tcp.bytes_sent", transmitted);
      span.end(start.plusNanos(nanos));
    }
    if (!telemetry.accessLog().enabled()) {
      return;
    }
    var sc = span.getSpanContext();
    telemetry.accessLog().log(new AccessLogEntry(start, TimeUnit.NANOSECONDS.toMicros(nanos),
        sc.isValid() ? sc.getTraceId() : null, sc.isValid() ? sc.getSpanId() : null, "outbound", "TCP", null, null,
        null, null, null, null, received, transmitted, cluster, null, 1, source == null ? null : source.name(),
        source == null || source.identity() == null ? null : source.identity().toString(), null, service, null,
        service != null, null));
  }
}
