package dev.trellis.proxy.state;

import java.net.InetAddress;

/**
 * One filter chain of the outbound capture listener: traffic to {@code destination}:{@code port} is
 * handled as {@link #target}.
 */
public record OutboundRule(String name, Cidr destination, int port, Target target) {

  /** What to do with a matched connection. */
  public sealed interface Target {}

  /** L7: parse HTTP and route it with route configuration {@code routeConfig}. */
  public record Http(String routeConfig) implements Target {}

  /** L4: proxy bytes to {@code cluster}. */
  public record Tcp(String cluster) implements Target {}

  public boolean matches(InetAddress address, int destinationPort) {
    return port == destinationPort && destination.contains(address);
  }
}
