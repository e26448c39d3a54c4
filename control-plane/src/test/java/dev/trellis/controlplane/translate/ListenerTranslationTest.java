package dev.trellis.controlplane.translate;

import static dev.trellis.controlplane.translate.TranslationFixtures.GRPC_9090;
import static dev.trellis.controlplane.translate.TranslationFixtures.HTTP_80;
import static dev.trellis.controlplane.translate.TranslationFixtures.TCP_5432;
import static dev.trellis.controlplane.translate.TranslationFixtures.mesh;
import static dev.trellis.controlplane.translate.TranslationFixtures.service;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Any;
import com.google.protobuf.BoolValue;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.trellis.controlplane.model.Mesh;
import dev.trellis.controlplane.model.MeshEgress;
import dev.trellis.controlplane.model.MeshHttp;
import dev.trellis.controlplane.model.MeshHttp.EscapedSlashes;
import dev.trellis.controlplane.model.MeshHttp.PathParameters;
import dev.trellis.controlplane.model.Service;
import io.envoyproxy.envoy.config.core.v3.AggregatedConfigSource;
import io.envoyproxy.envoy.config.core.v3.ApiVersion;
import io.envoyproxy.envoy.config.core.v3.ConfigSource;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.extensions.filters.http.router.v3.Router;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.PathWithEscapedSlashesAction;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.Rds;
import io.envoyproxy.envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link ListenerTranslation}: API listeners by name, the HTTP connection manager's path normalization, and the
 * capture listener's chains ("name: vip/len:port -> filter target" rows) and metadata.
 */
class ListenerTranslationTest {

  static final Service WEB = service("web", "10.96.0.10", HTTP_80, GRPC_9090);
  static final Service DB = service("db", "10.96.0.20", TCP_5432);
  static final Service V6 = service("v6", "fd00::10", HTTP_80);
  static final Service HEADLESS = service("headless", null, HTTP_80);

  static HttpConnectionManager expectedHcm(String routeName, PathWithEscapedSlashesAction escapedSlashes) {
    return HttpConnectionManager.newBuilder().setStatPrefix(routeName)
        .setRds(Rds.newBuilder().setRouteConfigName(routeName).setConfigSource(ConfigSource.newBuilder()
            .setAds(AggregatedConfigSource.getDefaultInstance()).setResourceApiVersion(ApiVersion.V3)))
        .addHttpFilters(HttpFilter.newBuilder().setName("envoy.filters.http.router")
            .setTypedConfig(Any.pack(Router.getDefaultInstance())))
        .setNormalizePath(BoolValue.of(true)).setMergeSlashes(true).setPathWithEscapedSlashesAction(escapedSlashes)
        .build();
  }

  static Stream<Object[]> pathNormalization() {
    return Stream.of(
        new Object[] {new MeshHttp(EscapedSlashes.REJECT_REQUEST, PathParameters.REJECT),
            PathWithEscapedSlashesAction.REJECT_REQUEST, "REJECT_REQUEST REJECT"},
        new Object[] {new MeshHttp(EscapedSlashes.UNESCAPE_AND_FORWARD, PathParameters.STRIP),
            PathWithEscapedSlashesAction.UNESCAPE_AND_FORWARD, "UNESCAPE_AND_FORWARD STRIP"},
        new Object[] {new MeshHttp(EscapedSlashes.REJECT_REQUEST, PathParameters.STRIP),
            PathWithEscapedSlashesAction.REJECT_REQUEST, "REJECT_REQUEST STRIP"});
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("pathNormalization")
  void theMeshsPathNormalizationIsInEnvoysHcmFieldsAndInTheOutboundListenersMetadata(MeshHttp http,
      PathWithEscapedSlashesAction expected, String metadata) throws Exception {
    Mesh mesh = mesh(List.of(WEB), List.of(), List.of(), MeshEgress.DEFAULTS, http);
    Listener api = ListenerTranslation.apiListener(mesh, WEB, HTTP_80);
    assertThat(api.getName()).as("the name a gRPC client dialing xds:///web.demo.svc.cluster.local:80 asks for")
        .isEqualTo("web.demo.svc.cluster.local:80");
    assertThat(api.getApiListener().getApiListener().unpack(HttpConnectionManager.class))
        .isEqualTo(expectedHcm("web.demo.svc.cluster.local:80", expected));
    Listener outbound = ListenerTranslation.outbound(mesh, mesh.services());
    assertThat(outbound.getFilterChains(0).getFilters(0).getTypedConfig().unpack(HttpConnectionManager.class))
        .isEqualTo(expectedHcm("web.demo.svc.cluster.local:80", expected));
    var paths = outbound.getMetadata().getFilterMetadataOrThrow("trellis").getFieldsOrThrow("path_normalization")
        .getStructValue();
    assertThat(paths.getFieldsOrThrow("escaped_slashes").getStringValue() + " "
        + paths.getFieldsOrThrow("path_parameters").getStringValue()).isEqualTo(metadata);
  }

  record Case(String name, List<Service> services, List<String> chains) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Stream<Case> chains() {
    return Stream.of(
        new Case("no services: only the passthrough default", List.of(), List.of()),
        new Case("one chain per VIP and port: HCM over RDS for HTTP and gRPC, TCP proxy for the rest",
            List.of(WEB, DB), List.of(
                "web.demo.svc.cluster.local:80: 10.96.0.10/32:80 -> hcm web.demo.svc.cluster.local:80",
                "web.demo.svc.cluster.local:9090: 10.96.0.10/32:9090 -> hcm web.demo.svc.cluster.local:9090",
                "db.demo.svc.cluster.local:5432: 10.96.0.20/32:5432 -> tcp outbound|5432||db.demo.svc.cluster.local")),
        new Case("an IPv6 VIP matches /128", List.of(V6),
            List.of("v6.demo.svc.cluster.local:80: fd00::10/128:80 -> hcm v6.demo.svc.cluster.local:80")),
        new Case("a service without a VIP has nothing to match", List.of(HEADLESS, DB), List.of(
            "db.demo.svc.cluster.local:5432: 10.96.0.20/32:5432 -> tcp outbound|5432||db.demo.svc.cluster.local")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("chains")
  void theCaptureListenerHasAChainPerVipAndPortAndAPassthroughDefault(Case c) throws Exception {
    Listener l = ListenerTranslation.outbound(mesh(c.services(), List.of(), List.of()), c.services());
    assertThat(l.getName()).isEqualTo("trellis-outbound");
    assertThat(l.getAddress().getSocketAddress().getAddress()).isEqualTo("0.0.0.0");
    assertThat(l.getAddress().getSocketAddress().getPortValue()).isEqualTo(15001);
    assertThat(l.getListenerFiltersList()).extracting(f -> f.getName())
        .containsExactly("envoy.filters.listener.original_dst");
    List<String> rows = new ArrayList<>();
    for (FilterChain chain : l.getFilterChainsList()) {
      rows.add(row(chain));
    }
    assertThat(rows).isEqualTo(c.chains());
    assertThat(l.getDefaultFilterChain().getName()).isEqualTo("passthrough");
    assertThat(l.getDefaultFilterChain().getFilters(0).getTypedConfig().unpack(TcpProxy.class))
        .isEqualTo(TcpProxy.newBuilder().setStatPrefix("PassthroughCluster").setCluster("PassthroughCluster").build());
  }

  static String row(FilterChain chain) throws InvalidProtocolBufferException {
    var match = chain.getFilterChainMatch();
    Any config = chain.getFilters(0).getTypedConfig();
    String target = switch (chain.getFilters(0).getName()) {
      case "envoy.filters.network.http_connection_manager" ->
          "hcm " + config.unpack(HttpConnectionManager.class).getRds().getRouteConfigName();
      case "envoy.filters.network.tcp_proxy" -> "tcp " + config.unpack(TcpProxy.class).getCluster();
      default -> "unexpected filter " + chain.getFilters(0).getName();
    };
    return chain.getName() + ": " + match.getPrefixRanges(0).getAddressPrefix() + "/"
        + match.getPrefixRanges(0).getPrefixLen().getValue() + ":" + match.getDestinationPort().getValue() + " -> "
        + target;
  }

  @Test
  void theEgressAllowListRidesOnThePassthroughChainOnlyWhenItIsNotEmpty() {
    Listener none = ListenerTranslation.outbound(mesh(List.of(), List.of(), List.of()), List.of());
    assertThat(none.getDefaultFilterChain().hasMetadata()).isFalse();
    Mesh egress = mesh(List.of(), List.of(), List.of(), new MeshEgress(List.of("169.254.169.254/32", "10.1.0.0/16")),
        MeshHttp.DEFAULTS);
    assertThat(ListenerTranslation.outbound(egress, List.of()).getDefaultFilterChain().getMetadata()
        .getFilterMetadataOrThrow("trellis").getFieldsOrThrow("egress_allow_cidrs").getListValue().getValuesList())
        .extracting(v -> v.getStringValue()).containsExactly("169.254.169.254/32", "10.1.0.0/16");
  }
}
