package dev.trellis.xds.resource;

import com.google.protobuf.Value;
import io.envoyproxy.envoy.config.core.v3.Node;
import java.util.Locale;

/**
 * What kind of xDS client a stream serves, decided once from its first request's {@link Node}. A snapshot may hold a
 * variant of a resource for one kind (see {@code Snapshot.Builder.addVariant}) where that kind rejects what the others
 * are served: proxyless gRPC rejects a {@code MAGLEV} cluster, so it gets {@code RING_HASH}.
 *
 * <p>The rule errs towards what every client accepts: only a client that names itself as one of ours (Node metadata
 * {@code trellis.role} = {@code node-proxy}) or as Envoy ({@code user_agent_name} {@code envoy}, which Envoy sets
 * itself) is served the full Envoy feature set; every other client (grpc-java's "gRPC Java", grpc-go's "gRPC Go",
 * C-core, Armeria, anything unknown) is {@link #PROXYLESS}.
 */
public enum ClientKind {
  /** A Trellis node proxy. */
  NODE_PROXY,
  /**
   * A Trellis node proxy that does not announce {@value #COMPACT_ENDPOINTS} in {@code Node.client_features} (one built
   * before that form): served endpoints in the earlier form, every fact on each endpoint, so a control plane can be
   * upgraded before its node proxies.
   */
  LEGACY_NODE_PROXY,
  /** Envoy. */
  ENVOY,
  /** Proxyless gRPC and every client not known to implement Envoy's full feature set. */
  PROXYLESS;

  /** The Node metadata key a Trellis node proxy sets to {@value #NODE_PROXY_ROLE}. */
  public static final String ROLE_KEY = "trellis.role";
  public static final String NODE_PROXY_ROLE = "node-proxy";
  /**
   * The {@code Node.client_features} entry of a node proxy that reads endpoints in the compact form: node address in
   * the locality's {@code filter_metadata.trellis}, node as the locality's {@code sub_zone}, {@code in_mesh} only when
   * false (docs/xds.md).
   */
  public static final String COMPACT_ENDPOINTS = "trellis.dev/compact-endpoints";

  /** The kind of the client that sent {@code node}. */
  public static ClientKind of(Node node) {
    Value role = node.getMetadata().getFieldsMap().get(ROLE_KEY);
    if (role != null && NODE_PROXY_ROLE.equals(role.getStringValue())) {
      return node.getClientFeaturesList().contains(COMPACT_ENDPOINTS) ? NODE_PROXY : LEGACY_NODE_PROXY;
    }
    if ("envoy".equalsIgnoreCase(node.getUserAgentName().strip())) {
      return ENVOY;
    }
    return PROXYLESS;
  }

  /** Lower-case, dashed: {@code node-proxy}, {@code legacy-node-proxy}, {@code envoy}, {@code proxyless}. */
  public String label() {
    return name().toLowerCase(Locale.ROOT).replace('_', '-');
  }
}
