package dev.trellis.xds.server;

import io.envoyproxy.envoy.config.core.v3.Node;
import io.grpc.Status;

/**
 * Decides, once per stream from the first request's {@link Node}, who the client is and which
 * node-scoped resources it may see. Runs in the stream's gRPC {@code Context}, so it can read what an
 * authentication interceptor put there. Refuse with a {@link io.grpc.StatusRuntimeException}.
 */
@FunctionalInterface
public interface ClientAuthorizer {

  ClientScope authorize(Node node);

  /**
   * Believes the Node.id: the client sees the workloads of the node it names. For tests and trusted
   * loopback set-ups only; the control plane checks the caller's token instead.
   */
  static ClientAuthorizer trustNodeId() {
    return node -> {
      if (node.getId().isEmpty()) {
        throw Status.INVALID_ARGUMENT.withDescription("the first request must carry node.id").asRuntimeException();
      }
      return ClientScope.authenticated(node.getId(), node.getId(), "node id " + node.getId() + " (not verified)");
    };
  }
}
