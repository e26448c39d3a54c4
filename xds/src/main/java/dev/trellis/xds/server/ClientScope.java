package dev.trellis.xds.server;

import static java.util.Objects.requireNonNull;

/**
 * Who is on an xDS stream, as decided by a {@link ClientAuthorizer}.
 *
 * @param clientId for logs and debug output (usually the Node.id)
 * @param node the node whose node-scoped resources (workloads) the client may see; null for none
 * @param principal how the client authenticated, for debug output (e.g. "node token of node-1", "anonymous");
 *     authenticated clients with the same principal share {@link AdsLimits#maxStreamsPerClient()}
 * @param access whether the client proved who it is; anonymous clients have limits of their own
 */
public record ClientScope(String clientId, String node, String principal, Access access) {

  /** Whether a client proved who it is. */
  public enum Access {
    AUTHENTICATED,
    ANONYMOUS
  }

  public ClientScope {
    requireNonNull(clientId, "clientId");
    requireNonNull(principal, "principal");
    requireNonNull(access, "access");
  }

  /** A client that proved to be {@code principal}, seeing the node-scoped resources of {@code node}. */
  public static ClientScope authenticated(String clientId, String node, String principal) {
    return new ClientScope(clientId, node, principal, Access.AUTHENTICATED);
  }

  /** A client without credentials: global resources only, the anonymous limits. */
  public static ClientScope anonymous(String clientId) {
    return new ClientScope(clientId, null, "anonymous", Access.ANONYMOUS);
  }

  public boolean isAnonymous() {
    return access == Access.ANONYMOUS;
  }
}
