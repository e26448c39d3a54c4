package dev.trellis.controlplane.translate;

import com.google.protobuf.Any;
import com.google.protobuf.BoolValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.protobuf.UInt32Value;
import com.google.protobuf.ListValue;
import dev.trellis.controlplane.model.Mesh;
import dev.trellis.controlplane.model.MeshEgress;
import dev.trellis.controlplane.model.MeshHttp;
import dev.trellis.controlplane.model.Service;
import dev.trellis.controlplane.model.ServicePort;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.CidrRange;
import io.envoyproxy.envoy.config.core.v3.Metadata;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.listener.v3.ApiListener;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.FilterChainMatch;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.listener.v3.ListenerFilter;
import io.envoyproxy.envoy.extensions.filters.http.router.v3.Router;
import io.envoyproxy.envoy.extensions.filters.listener.original_dst.v3.OriginalDst;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.Rds;
import io.envoyproxy.envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy;
import java.util.List;

/**
 * Listeners: an API listener named {@code <fqdn>:<port>} per HTTP service port (what proxyless gRPC
 * and Envoy ask for by name), and the node proxies' capture listener with one filter chain per
 * service VIP:port — HTTP connection manager with RDS for HTTP ports, TCP proxy for the rest —
 * and a passthrough chain for everything else (carrying the mesh's egress allow-list). Pure.
 */
final class ListenerTranslation {

  private ListenerTranslation() {}

  static Listener apiListener(Mesh mesh, Service service, ServicePort port) {
    String fqdn = mesh.fqdn(service);
    return Listener.newBuilder()
        .setName(XdsNames.apiListener(fqdn, port.port()))
        .setApiListener(ApiListener.newBuilder().setApiListener(Any.pack(hcm(mesh.http(), fqdn, port))))
        .build();
  }

  /**
   * The HTTP connection manager of a service port, with the mesh's path normalization in Envoy's own fields
   * ({@code normalize_path}, {@code merge_slashes}, {@code path_with_escaped_slashes_action}), as the node proxies
   * apply it. Path parameters have no Envoy field: they ride in the outbound listener's metadata ({@link #outbound}).
   */
  static HttpConnectionManager hcm(MeshHttp http, String fqdn, ServicePort port) {
    return HttpConnectionManager.newBuilder()
        .setStatPrefix(XdsNames.routeConfig(fqdn, port.port()))
        .setRds(Rds.newBuilder().setConfigSource(Protos.ads()).setRouteConfigName(XdsNames.routeConfig(fqdn, port.port())))
        .addHttpFilters(HttpFilter.newBuilder().setName("envoy.filters.http.router")
            .setTypedConfig(Any.pack(Router.getDefaultInstance())))
        .setNormalizePath(BoolValue.of(true))
        .setMergeSlashes(true)
        .setPathWithEscapedSlashesAction(switch (http.escapedSlashes()) {
          case REJECT_REQUEST -> HttpConnectionManager.PathWithEscapedSlashesAction.REJECT_REQUEST;
          case UNESCAPE_AND_FORWARD -> HttpConnectionManager.PathWithEscapedSlashesAction.UNESCAPE_AND_FORWARD;
        })
        .build();
  }

  /**
   * The outbound listener's {@code filter_metadata.trellis.path_normalization}: what node proxies read for both
   * directions ({@code escaped_slashes}: Envoy's enum name; {@code path_parameters}: {@code REJECT} or {@code STRIP}).
   */
  static Metadata pathNormalization(MeshHttp http) {
    Struct paths = Struct.newBuilder()
        .putFields("escaped_slashes", Value.newBuilder().setStringValue(http.escapedSlashes().name()).build())
        .putFields("path_parameters", Value.newBuilder().setStringValue(http.pathParameters().name()).build())
        .build();
    return Metadata.newBuilder().putFilterMetadata(XdsNames.METADATA, Struct.newBuilder()
        .putFields("path_normalization", Value.newBuilder().setStructValue(paths).build()).build()).build();
  }

  static Listener outbound(Mesh mesh, List<Service> services) {
    Listener.Builder l = Listener.newBuilder()
        .setName(XdsNames.OUTBOUND_LISTENER)
        .setMetadata(pathNormalization(mesh.http()))
        .setAddress(Address.newBuilder().setSocketAddress(SocketAddress.newBuilder().setAddress("0.0.0.0")
            .setPortValue(XdsNames.OUTBOUND_PORT)))
        .addListenerFilters(ListenerFilter.newBuilder().setName("envoy.filters.listener.original_dst")
            .setTypedConfig(Any.pack(OriginalDst.getDefaultInstance())));
    for (Service s : services) {
      if (s.vip() == null) {
        continue;
      }
      String fqdn = mesh.fqdn(s);
      for (ServicePort port : s.ports()) {
        Any filter = port.protocol().isHttp() ? Any.pack(hcm(mesh.http(), fqdn, port))
            : Any.pack(TcpProxy.newBuilder().setStatPrefix(XdsNames.cluster(fqdn, port.port()))
                .setCluster(XdsNames.cluster(fqdn, port.port())).build());
        l.addFilterChains(FilterChain.newBuilder()
            .setName(XdsNames.routeConfig(fqdn, port.port()))
            .setFilterChainMatch(FilterChainMatch.newBuilder()
                .addPrefixRanges(CidrRange.newBuilder().setAddressPrefix(s.vip())
                    .setPrefixLen(UInt32Value.of(s.vip().contains(":") ? 128 : 32)))
                .setDestinationPort(UInt32Value.of(port.port())))
            .addFilters(Filter.newBuilder().setName(port.protocol().isHttp()
                ? "envoy.filters.network.http_connection_manager" : "envoy.filters.network.tcp_proxy")
                .setTypedConfig(filter)));
      }
    }
    FilterChain.Builder passthrough = FilterChain.newBuilder().setName("passthrough")
        .addFilters(Filter.newBuilder().setName("envoy.filters.network.tcp_proxy").setTypedConfig(Any.pack(
            TcpProxy.newBuilder().setStatPrefix(XdsNames.PASSTHROUGH_CLUSTER).setCluster(XdsNames.PASSTHROUGH_CLUSTER)
                .build())));
    if (!mesh.egress().allowCidrs().isEmpty()) {
      passthrough.setMetadata(egressMetadata(mesh.egress()));
    }
    l.setDefaultFilterChain(passthrough);
    return l.build();
  }

  /**
   * The egress allow-list as Trellis metadata of the passthrough chain: {@code filter_metadata["trellis"]
   * ["egress_allow_cidrs"]}, a list of "address/length" strings. Node proxies refuse captured pods' passthrough to
   * link-local and node addresses except these; other xDS clients ignore it.
   */
  static Metadata egressMetadata(MeshEgress egress) {
    ListValue.Builder list = ListValue.newBuilder();
    egress.allowCidrs().forEach(c -> list.addValues(Value.newBuilder().setStringValue(c)));
    return Metadata.newBuilder().putFilterMetadata(XdsNames.METADATA, Struct.newBuilder()
        .putFields(XdsNames.EGRESS_ALLOW_CIDRS, Value.newBuilder().setListValue(list).build()).build()).build();
  }
}
