package dev.trellis.proxy.inbound;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.proxy.state.LocalWorkload;

/**
 * Whether a verified peer may open a connection to a local workload's port. Returns null to allow,
 * or the reason to deny (it goes into the 401 response and the access log).
 */
@FunctionalInterface
public interface InboundAuthorizer {

  String deny(SpiffeId peer, LocalWorkload target, int port);

  static InboundAuthorizer allowAll() {
    return (peer, target, port) -> null;
  }
}
