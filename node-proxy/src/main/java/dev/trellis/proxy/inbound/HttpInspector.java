package dev.trellis.proxy.inbound;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.proxy.state.LocalWorkload;
import io.netty.channel.Channel;

/**
 * Takes over an inbound connection whose policies name HTTP methods or paths: parses the requests
 * arriving on {@code downstream} (bytes: an HBONE stream behind a bytes adapter, or a socket),
 * authorizes each one, and forwards those allowed to the workload over {@code workload} (already
 * connected). Implemented by the HTTP engine ({@code outbound.HttpInspection}).
 */
@FunctionalInterface
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
  default boolean observesHttp() {
    return false;
  }

  /** Whether a connection that {@code decision} forwards runs through the inspector. */
  default boolean inspects(InboundDecision.Forward decision) {
    return decision.inspection() == InboundDecision.Inspection.HTTP
        || observesHttp() && decision.target().isHttpPort(decision.port());
  }
}
