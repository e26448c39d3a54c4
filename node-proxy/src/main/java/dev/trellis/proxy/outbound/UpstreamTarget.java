package dev.trellis.proxy.outbound;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.proxy.state.EndpointSpec;
import dev.trellis.proxy.state.LocalWorkload;
import java.net.InetSocketAddress;

/** How to reach one endpoint from one source workload: HBONE when both are in the mesh, else directly. Pure. */
sealed interface UpstreamTarget {

  /** Tunnel to {@code authority} via the node proxy at {@code dial}, presenting {@code source}'s SVID. */
  record Hbone(SpiffeId source, SpiffeId destination, InetSocketAddress dial, String authority) implements UpstreamTarget {}

  /** Plaintext straight to the endpoint (it is outside the mesh, or the source is). */
  record Direct(String address, int port) implements UpstreamTarget {}

  static UpstreamTarget of(LocalWorkload source, EndpointSpec ep, int hbonePort) {
    return of(source, ep, HboneDialing.nodeAddresses(hbonePort));
  }

  static UpstreamTarget of(LocalWorkload source, EndpointSpec ep, HboneDialing dialing) {
    if (ep.inMesh() && source.inMesh()) {
      return new Hbone(source.identity(), ep.identity(), dialing.dial(ep), ep.hostPort());
    }
    return new Direct(ep.address(), ep.port());
  }
}
