package dev.trellis.controlplane.server;

import dev.trellis.ca.server.BearerAuthInterceptor;
import dev.trellis.ca.server.Caller;
import dev.trellis.xds.server.ClientAuthorizer;
import dev.trellis.xds.server.ClientScope;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.grpc.Status;

/**
 * Who may see what over xDS. A caller authenticated with a node token sees its own node's workloads
 * and must name that node as Node.id. A caller without a token — allowed by default in local mode,
 * in a cluster only with {@code --anonymous-xds} — sees the global configuration (services, routes,
 * endpoints, trust bundle) and no workloads, under the anonymous limits of {@code AdsLimits}.
 */
final class XdsAccess implements ClientAuthorizer {

  private final boolean allowAnonymous;

  XdsAccess(BearerAuthInterceptor.Anonymous anonymous) {
    this.allowAnonymous = anonymous == BearerAuthInterceptor.Anonymous.ALLOW;
  }

  @Override
  public ClientScope authorize(Node node) {
    Caller caller = Caller.current();
    String id = node.getId().isEmpty() ? "(no node id)" : node.getId();
    if (caller == null) {
      if (!allowAnonymous) {
        throw Status.UNAUTHENTICATED.withDescription("xDS requires 'authorization: Bearer <node token>' on this port")
            .asRuntimeException();
      }
      return ClientScope.anonymous(id);
    }
    if (!node.getId().equals(caller.node())) {
      throw Status.PERMISSION_DENIED.withDescription("node.id '" + node.getId() + "' does not match the node of the "
          + "token (" + caller.node() + "); a node proxy must identify itself with its own node name").asRuntimeException();
    }
    return ClientScope.authenticated(caller.node(), caller.node(), caller.principal());
  }
}
