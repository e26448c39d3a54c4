package dev.trellis.proxy.inbound;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.proxy.state.LocalWorkload;
import io.netty.channel.Channel;

/**
 * The destination's HTTP work on a forwarded connection, implemented by the HTTP engine
 * ({@link HttpInspection}). {@link #inspect} takes over every connection to a workload's HTTP port: it parses
 * the requests arriving on {@code downstream} (an HBONE stream behind a bytes adapter, or a socket), normalizes each
 * one's path, authorizes it, sets the identity headers only the mesh may set, and forwards those allowed to the
 * workload over {@code workload} (already connected). Ports not declared HTTP are relayed as bytes.
 */
public interface HttpInspector {

  /**
   * @param peer the caller's verified identity, or null for a plaintext caller
   * @param port the workload port
   */
  void inspect(Channel downstream, Channel workload, LocalWorkload target, SpiffeId peer, String address, int port);

  /** Whether a connection that {@code decision} forwards runs through the inspector: its port speaks HTTP. */
  default boolean inspects(InboundDecision.Forward decision) {
    return decision.inspection() == InboundDecision.Inspection.HTTP;
  }
}
