package dev.trellis.xds.server;

/**
 * Who is on an xDS stream, as decided by a {@link ClientAuthorizer}.
 *
 * @param clientId for logs and debug output (usually the Node.id)
 * @param node the node whose node-scoped resources (workloads) the client may see; null for none
 * @param principal how the client authenticated, for debug output (e.g. "node token of node-1", "anonymous")
 */
public record ClientScope(String clientId, String node, String principal) {}
