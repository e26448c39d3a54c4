package dev.trellis.proxy.inbound;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.proxy.state.LocalWorkload;
import io.netty.channel.Channel;

/**
 * The destination's HTTP work on a forwarded connection, implemented by the HTTP engine
 * ({@code outbound.HttpInspection}). {@link #inspect} takes a connection over: when policies name HTTP methods or
 * paths it parses the requests arriving on {@code downstream} (an HBONE stream behind a bytes adapter, or a socket),
 * authorizes each one and forwards those allowed to the workload over {@code workload} (already connected).
 * {@link #observe} only watches the requests of a connection that is relayed as bytes, for telemetry.
 */
public interface HttpInspector {

  /**
   * @param peer the caller's verified identity, or null for a plaintext caller
   * @param port the workload port
   */
  void inspect(Channel downstream, Channel workload, LocalWorkload target, SpiffeId peer, String address, int port);

  /**
   * Whether every request to a workload's HTTP port should run through the inspector, policies or not (telemetry:
   * server spans, request metrics and access-log lines at the destination).
   */
  boolean observesHttp();

  /**
   * Observes the HTTP requests (1.1 or 2) of a connection relayed to {@code workload} without taking it over (telemetry at
   * the destination: server spans, request metrics, access-log lines); installs itself on {@code workload}'s
   * pipeline before the relay starts.
   */
  void observe(Channel workload, LocalWorkload target, SpiffeId peer);

  /**
   * Whether a connection that {@code decision} forwards runs through the inspector: its policies name methods or
   * paths.
   */
  default boolean inspects(InboundDecision.Forward decision) {
    return decision.inspection() == InboundDecision.Inspection.HTTP;
  }

  /**
   * Whether a connection that {@code decision} forwards (and the inspector does not take) is {@link #observe}d:
   * telemetry observes requests, and the port speaks HTTP (any version).
   */
  default boolean observes(InboundDecision.Forward decision) {
    return observesHttp() && !inspects(decision) && decision.target().isHttpPort(decision.port());
  }
}
