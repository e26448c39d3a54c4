package dev.trellis.telemetry.attributes;

import io.opentelemetry.api.common.AttributeKey;

/**
 * The attribute names the mesh's spans, metrics and access-log lines carry: OpenTelemetry semantic conventions
 * (HTTP, network, RPC) plus Trellis's own {@code trellis.*} mesh attributes. One list, so a span, a metric and a
 * log line about the same request say the same thing in the same words.
 */
public final class MeshAttributes {

  private MeshAttributes() {}

  // ---- OpenTelemetry semantic conventions (stable HTTP/network names, RPC for gRPC)
  public static final AttributeKey<String> HTTP_REQUEST_METHOD = AttributeKey.stringKey("http.request.method");
  public static final AttributeKey<Long> HTTP_RESPONSE_STATUS_CODE = AttributeKey.longKey("http.response.status_code");
  public static final AttributeKey<String> HTTP_ROUTE = AttributeKey.stringKey("http.route");
  public static final AttributeKey<Long> HTTP_REQUEST_RESEND_COUNT = AttributeKey.longKey("http.request.resend_count");
  public static final AttributeKey<String> URL_PATH = AttributeKey.stringKey("url.path");
  public static final AttributeKey<String> URL_SCHEME = AttributeKey.stringKey("url.scheme");
  public static final AttributeKey<String> SERVER_ADDRESS = AttributeKey.stringKey("server.address");
  public static final AttributeKey<Long> SERVER_PORT = AttributeKey.longKey("server.port");
  public static final AttributeKey<String> CLIENT_ADDRESS = AttributeKey.stringKey("client.address");
  public static final AttributeKey<String> NETWORK_PROTOCOL_NAME = AttributeKey.stringKey("network.protocol.name");
  public static final AttributeKey<String> NETWORK_PROTOCOL_VERSION = AttributeKey.stringKey("network.protocol.version");
  public static final AttributeKey<String> NETWORK_PEER_ADDRESS = AttributeKey.stringKey("network.peer.address");
  public static final AttributeKey<Long> NETWORK_PEER_PORT = AttributeKey.longKey("network.peer.port");
  public static final AttributeKey<String> NETWORK_TRANSPORT = AttributeKey.stringKey("network.transport");
  public static final AttributeKey<String> NETWORK_IO_DIRECTION = AttributeKey.stringKey("network.io.direction");
  public static final AttributeKey<String> ERROR_TYPE = AttributeKey.stringKey("error.type");
  public static final AttributeKey<String> RPC_SYSTEM = AttributeKey.stringKey("rpc.system");
  public static final AttributeKey<String> RPC_SERVICE = AttributeKey.stringKey("rpc.service");
  public static final AttributeKey<String> RPC_METHOD = AttributeKey.stringKey("rpc.method");
  public static final AttributeKey<Long> RPC_GRPC_STATUS_CODE = AttributeKey.longKey("rpc.grpc.status_code");

  // ---- the mesh's own
  public static final AttributeKey<String> SOURCE_WORKLOAD = AttributeKey.stringKey("trellis.source.workload");
  public static final AttributeKey<String> SOURCE_NAMESPACE = AttributeKey.stringKey("trellis.source.namespace");
  public static final AttributeKey<String> SOURCE_PRINCIPAL = AttributeKey.stringKey("trellis.source.principal");
  public static final AttributeKey<String> DESTINATION_WORKLOAD = AttributeKey.stringKey("trellis.destination.workload");
  public static final AttributeKey<String> DESTINATION_NAMESPACE = AttributeKey.stringKey("trellis.destination.namespace");
  public static final AttributeKey<String> DESTINATION_SERVICE = AttributeKey.stringKey("trellis.destination.service");
  public static final AttributeKey<String> DESTINATION_PRINCIPAL = AttributeKey.stringKey("trellis.destination.principal");
  /** {@code mutual_tls} or {@code none}. */
  public static final AttributeKey<String> SECURITY_POLICY = AttributeKey.stringKey("trellis.security_policy");
  public static final AttributeKey<String> UPSTREAM_CLUSTER = AttributeKey.stringKey("trellis.upstream.cluster");
  public static final AttributeKey<String> UPSTREAM_HOST = AttributeKey.stringKey("trellis.upstream.host");
  /** Envoy-style response flags, e.g. {@code UO} (overflow), {@code UH} (no healthy host), {@code URX} (retries exhausted). */
  public static final AttributeKey<String> RESPONSE_FLAGS = AttributeKey.stringKey("trellis.response_flags");
  /** {@code outbound} (source node proxy) or {@code inbound} (destination). */
  public static final AttributeKey<String> DIRECTION = AttributeKey.stringKey("trellis.direction");
  public static final AttributeKey<String> NODE = AttributeKey.stringKey("trellis.node");
  /** {@code opened}, {@code closed} or {@code failed}, on {@code trellis.tcp.connections}. */
  public static final AttributeKey<String> CONNECTION_EVENT = AttributeKey.stringKey("trellis.connection.event");
}
