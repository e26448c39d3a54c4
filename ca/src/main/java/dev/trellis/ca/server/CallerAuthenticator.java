package dev.trellis.ca.server;

import dev.trellis.ca.CaException;
import java.net.SocketAddress;

/**
 * Turns a bearer token into a {@link Caller}. Local mode uses static per-node tokens
 * ({@link StaticTokenAuthenticator}); in a cluster, TokenReview (control-plane's {@code TokenReviewAuthenticator}). Runs
 * on gRPC's executor, not
 * on an event loop, so an implementation may block on I/O.
 */
@FunctionalInterface
public interface CallerAuthenticator {

  /**
   * @throws CaException {@link CaException.Reason#UNAUTHENTICATED} if the token is not recognized
   */
  Caller authenticate(String bearerToken);

  /**
   * The same, knowing where the call comes from, so an implementation that does expensive work per token (an API
   * call) can limit it per peer.
   *
   * @param peer the caller's transport address, or null when unknown
   */
  default Caller authenticate(String bearerToken, SocketAddress peer) {
    return authenticate(bearerToken);
  }
}
