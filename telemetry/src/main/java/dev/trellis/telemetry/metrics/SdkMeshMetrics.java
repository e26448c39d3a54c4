package dev.trellis.telemetry.metrics;

import dev.trellis.telemetry.attributes.MeshAttributes;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.DoubleHistogram;
import io.opentelemetry.api.metrics.LongCounter;
import io.opentelemetry.api.metrics.Meter;
import java.util.List;
import java.util.Locale;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** {@link MeshMetrics} on an OpenTelemetry {@link Meter}: synchronous instruments made once, recorded lock-free. */
final class SdkMeshMetrics implements MeshMetrics {

  private static final Logger log = LoggerFactory.getLogger(SdkMeshMetrics.class);

  /** Seconds; a proxy's requests range from sub-millisecond local hops to multi-second timeouts. */
  static final List<Double> DURATION_BUCKETS =
      List.of(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0);

  private static final double NANOS_PER_SECOND = 1_000_000_000.0;

  private final Meter meter;
  private final DoubleHistogram clientDuration;
  private final DoubleHistogram serverDuration;
  private final LongCounter tcpIo;
  private final LongCounter tcpConnections;

  SdkMeshMetrics(Meter meter) {
    this.meter = meter;
    clientDuration = meter.histogramBuilder("http.client.request.duration")
        .setDescription("Duration of HTTP client requests (source node proxy).")
        .setUnit("s")
        .setExplicitBucketBoundariesAdvice(DURATION_BUCKETS)
        .build();
    serverDuration = meter.histogramBuilder("http.server.request.duration")
        .setDescription("Duration of HTTP server requests (destination node proxy).")
        .setUnit("s")
        .setExplicitBucketBoundariesAdvice(DURATION_BUCKETS)
        .build();
    tcpIo = meter.counterBuilder("trellis.tcp.io")
        .setDescription("Bytes proxied over TCP connections.")
        .setUnit("By")
        .build();
    tcpConnections = meter.counterBuilder("trellis.tcp.connections")
        .setDescription("TCP connections opened, closed or failed.")
        .setUnit("{connection}")
        .build();
  }

  @Override
  public void clientRequest(Attributes attributes, long durationNanos) {
    clientDuration.record(durationNanos / NANOS_PER_SECOND, orEmpty(attributes));
  }

  @Override
  public void serverRequest(Attributes attributes, long durationNanos) {
    serverDuration.record(durationNanos / NANOS_PER_SECOND, orEmpty(attributes));
  }

  @Override
  public void tcpBytes(Attributes attributes, boolean transmit, long bytes) {
    if (bytes <= 0) {
      return;
    }
    tcpIo.add(bytes, orEmpty(attributes).toBuilder()
        .put(MeshAttributes.NETWORK_IO_DIRECTION, transmit ? "transmit" : "receive")
        .build());
  }

  @Override
  public void tcpConnection(Attributes attributes, ConnectionEvent event) {
    tcpConnections.add(1, orEmpty(attributes).toBuilder()
        .put(MeshAttributes.CONNECTION_EVENT, event.name().toLowerCase(Locale.ROOT))
        .build());
  }

  @Override
  public void gauge(String name, String description, String unit, LongSupplier value) {
    meter.gaugeBuilder(name).ofLongs().setDescription(description).setUnit(unit)
        .buildWithCallback(measurement -> {
          Long v = read(name, value);
          if (v != null) {
            measurement.record(v);
          }
        });
  }

  @Override
  public void observedCounter(String name, String description, String unit, LongSupplier value) {
    meter.counterBuilder(name).setDescription(description).setUnit(unit)
        .buildWithCallback(measurement -> {
          Long v = read(name, value);
          if (v != null) {
            measurement.record(v);
          }
        });
  }

  /** A failing supplier costs its metric one collection, not the whole scrape. */
  private static Long read(String name, LongSupplier value) {
    try {
      return value.getAsLong();
    } catch (RuntimeException e) {
      log.warn("metric {}: its value could not be read, left out of this collection", name, e);
      return null;
    }
  }

  private static Attributes orEmpty(Attributes attributes) {
    return attributes == null ? Attributes.empty() : attributes;
  }
}
