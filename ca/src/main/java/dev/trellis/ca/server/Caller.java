package dev.trellis.ca.server;

import static java.util.Objects.requireNonNull;

import io.grpc.Context;

/**
 * An authenticated caller of the control plane: a node proxy on {@code node}.
 *
 * @param node the node the caller runs on; it may obtain identities of workloads on that node only
 * @param principal who the caller proved to be, for logs (e.g. "node token of node-1", a service account)
 */
public record Caller(String node, String principal) {

  /** Set by {@link BearerAuthInterceptor} for the duration of an authenticated call. */
  static final Context.Key<Caller> CONTEXT_KEY = Context.key("trellis.caller");

  public Caller {
    requireNonNull(node, "node");
    requireNonNull(principal, "principal");
  }

  /** The caller of the current gRPC call, or null if no {@link BearerAuthInterceptor} ran. */
  public static Caller current() {
    return CONTEXT_KEY.get();
  }
}
