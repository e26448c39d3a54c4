package dev.trellis.xds.resource;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import dev.trellis.mesh.v1.Workload;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.Secret;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * The resource types Trellis serves, in the order a push sends them (make before break: secrets and
 * clusters before the endpoints, listeners and routes that refer to them).
 */
public enum ResourceType {
  SECRET("type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret", "SDS", Secret.parser(),
      m -> ((Secret) m).getName()),
  CLUSTER("type.googleapis.com/envoy.config.cluster.v3.Cluster", "CDS", Cluster.parser(), m -> ((Cluster) m).getName()),
  ENDPOINT("type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment", "EDS", ClusterLoadAssignment.parser(),
      m -> ((ClusterLoadAssignment) m).getClusterName()),
  LISTENER("type.googleapis.com/envoy.config.listener.v3.Listener", "LDS", Listener.parser(),
      m -> ((Listener) m).getName()),
  ROUTE("type.googleapis.com/envoy.config.route.v3.RouteConfiguration", "RDS", RouteConfiguration.parser(),
      m -> ((RouteConfiguration) m).getName()),
  WORKLOAD("type.googleapis.com/trellis.mesh.v1.Workload", "WDS", Workload.parser(), m -> ((Workload) m).getName());

  /** Removals of these types wait until every other update of a push was answered (make before break). */
  public static final List<ResourceType> DEFERRED_REMOVALS = List.of(CLUSTER, ENDPOINT, SECRET);

  private static final Map<String, ResourceType> BY_URL =
      Arrays.stream(values()).collect(Collectors.toUnmodifiableMap(ResourceType::typeUrl, t -> t));

  private final String typeUrl;
  private final String shortName;
  private final Parser<? extends Message> parser;
  private final Function<Message, String> nameOf;

  ResourceType(String typeUrl, String shortName, Parser<? extends Message> parser, Function<Message, String> nameOf) {
    this.typeUrl = typeUrl;
    this.shortName = shortName;
    this.parser = parser;
    this.nameOf = nameOf;
  }

  public String typeUrl() {
    return typeUrl;
  }

  /** CDS, EDS, ... for logs and debug output. */
  public String shortName() {
    return shortName;
  }

  /**
   * Whether a state-of-the-world response must carry every resource the client is interested in
   * (absence means deleted): Listener and Cluster per the xDS protocol, and Workload, whose
   * deletions have no parent resource to express them.
   */
  public boolean fullStateInSotw() {
    return this == LISTENER || this == CLUSTER || this == WORKLOAD;
  }

  public boolean deferredRemoval() {
    return DEFERRED_REMOVALS.contains(this);
  }

  /** The resource name of a message of this type. */
  public String nameOf(Message message) {
    return nameOf.apply(message);
  }

  /** Unpacks an {@link Any} of this type. */
  public Message unpack(Any any) throws InvalidProtocolBufferException {
    if (!any.getTypeUrl().equals(typeUrl)) {
      throw new InvalidProtocolBufferException("resource has type " + any.getTypeUrl() + ", expected " + typeUrl);
    }
    return parser.parseFrom(any.getValue());
  }

  /** The type for a type URL, or null if Trellis does not serve it. */
  public static ResourceType forUrl(String typeUrl) {
    return BY_URL.get(typeUrl);
  }
}
