package dev.trellis.telemetry.metrics;

import io.opentelemetry.api.common.Attributes;
import java.util.function.LongSupplier;

/**
 * The mesh's metrics (OpenTelemetry semantic-convention names; in Prometheus with dots as underscores and the unit
 * as a suffix, e.g. {@code http_client_request_duration_seconds}). Recording never blocks and never throws.
 */
public interface MeshMetrics {

  /** {@code http.client.request.duration} (s) at the source node proxy, with the request's attributes. */
  void clientRequest(Attributes attributes, long durationNanos);

  /** {@code http.server.request.duration} (s) at the destination node proxy. */
  void serverRequest(Attributes attributes, long durationNanos);

  /** {@code trellis.tcp.io} (By; Prometheus {@code trellis_tcp_io_bytes_total}) with {@code network.io.direction}. */
  void tcpBytes(Attributes attributes, boolean transmit, long bytes);

  /** {@code trellis.tcp.connections} ({@code trellis_tcp_connections_total}) by {@code trellis.connection.event}. */
  void tcpConnection(Attributes attributes, ConnectionEvent event);

  /** A gauge read at collection time (active connections, HBONE pool size, cert expiry...). */
  void gauge(String name, String description, String unit, LongSupplier value);

  /** A monotonic counter read at collection time (overflows, ejections, retries kept elsewhere). */
  void observedCounter(String name, String description, String unit, LongSupplier value);

  enum ConnectionEvent {
    OPENED,
    CLOSED,
    FAILED
  }

  /** Records nothing. */
  static MeshMetrics noop() {
    return NoopMeshMetrics.INSTANCE;
  }
}
