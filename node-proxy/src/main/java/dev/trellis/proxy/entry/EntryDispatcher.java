package dev.trellis.proxy.entry;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import java.net.InetAddress;

/**
 * What an entry listener does once a client named where it is going: the outbound entry (15001)
 * routes to a mesh service or passes through; the plaintext inbound entry (15006) delivers to a local
 * workload if its mTLS mode and policies allow. Transparent capture ({@link CaptureServer}) calls the same
 * dispatchers with the original destination it recovers.
 */
@FunctionalInterface
public interface EntryDispatcher {

  /** Why an entry refuses a connection; each entry protocol maps it to its own status. */
  enum Refusal {
    /** Policy: the source may not go there, or the destination refused this identity. */
    FORBIDDEN,
    /** No endpoint could be reached. */
    UNREACHABLE,
    /** A circuit breaker is full. */
    OVERFLOW
  }

  /** How the entry answers its client. */
  interface EntryReply {
    /** Tells the client the connection is up and removes the entry's own handlers; completes once written. */
    ChannelFuture accept();

    /** Tells the client no and closes. */
    void reject(Refusal why);
  }

  /**
   * @param source the client's address (which workload calls)
   * @param destination the destination address, or null when the client named a service ({@code name})
   */
  void dispatch(Channel downstream, String source, InetAddress destination, String name, int port, EntryReply reply);

  /**
   * As {@link #dispatch(Channel, String, InetAddress, String, int, EntryReply)}, for a connection a capture listener
   * accepted: {@code arrival} says how it was redirected (the outbound dispatcher's passthrough depends on it).
   */
  default void dispatch(Channel downstream, String source, InetAddress destination, String name, int port,
      Arrival arrival, EntryReply reply) {
    dispatch(downstream, source, destination, name, port, reply);
  }
}
