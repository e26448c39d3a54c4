package dev.trellis.proxy.http;

import dev.trellis.proxy.cluster.Host;
import dev.trellis.proxy.state.LocalWorkload;
import io.netty.channel.Channel;
import io.netty.util.concurrent.Future;

/**
 * Opens the byte stream an {@link UpstreamPool} runs an HTTP connection over, on the pool's event loop: outbound, an
 * HBONE stream or a TCP connection to the endpoint ({@code outbound.EndpointDialer}); in tests, an
 * {@code EmbeddedChannel}. The channel it gives carries bytes (the pool adds the HTTP codec), with auto-read off.
 */
@FunctionalInterface
public interface UpstreamDialer {

  /**
   * A connected byte channel to {@code host} on behalf of {@code source}; fails with an
   * {@link UpstreamPool.UpstreamException} ({@code CONNECT_FAILURE}, or {@code DENIED} when the peer refused us).
   */
  Future<Channel> open(Host host, LocalWorkload source);
}
