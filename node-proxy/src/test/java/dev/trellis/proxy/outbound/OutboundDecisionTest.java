package dev.trellis.proxy.outbound;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.proxy.state.EndpointSpec;
import dev.trellis.proxy.state.ProxyConfig;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

class OutboundDecisionTest {

  static final ProxyConfig CONFIG = dev.trellis.proxy.state.ProxyConfigsTest.config();
  static final String DB = "outbound|5432||db.d.svc.cluster.local";

  private static OutboundDecision decide(String source, String destination, int port) throws Exception {
    return OutboundDecision.decide(source, InetAddress.getByName(destination), port, null, CONFIG);
  }

  @Test
  void anHttpServiceIsRoutedPerRequestWithItsRouteConfiguration() throws Exception {
    assertThat(decide("127.0.1.10", "10.96.0.10", 80)).isInstanceOfSatisfying(OutboundDecision.Http.class, h -> {
      assertThat(h.routeConfig()).isEqualTo("web.d.svc.cluster.local:80");
      assertThat(h.source().name()).isEqualTo("d/client-0");
    });
  }

  @Test
  void aTcpServiceGoesToItsCluster() throws Exception {
    assertThat(decide("127.0.1.10", "10.96.0.11", 5432)).isInstanceOfSatisfying(OutboundDecision.Tcp.class,
        t -> assertThat(t.cluster()).isEqualTo(DB));
  }

  @Test
  void theMostSpecificPrefixWins() throws Exception {
    // 10.96.0.10:80 is both the web VIP (/32) and inside the "wide" 10.0.0.0/8 chain.
    assertThat(decide("127.0.1.10", "10.96.0.10", 80)).isInstanceOf(OutboundDecision.Http.class);
    assertThat(decide("127.0.1.10", "10.1.2.3", 80)).isInstanceOfSatisfying(OutboundDecision.Tcp.class,
        t -> assertThat(t.cluster()).isEqualTo("wide"));
  }

  @Test
  void aDestinationThatIsNoMeshServiceLeavesAsItCame() throws Exception {
    assertThat(decide("127.0.1.10", "93.184.216.34", 443)).isEqualTo(new OutboundDecision.Passthrough("93.184.216.34", 443));
  }

  @Test
  void refusals() throws Exception {
    assertThat(decide("127.0.9.9", "10.96.0.10", 80)).isInstanceOfSatisfying(OutboundDecision.Refuse.class,
        r -> assertThat(r.reason()).contains("source 127.0.9.9 is not a workload on this node"));
    assertThat(OutboundDecision.decide("127.0.1.10", null, 80, "nowhere.example", CONFIG))
        .isInstanceOfSatisfying(OutboundDecision.Refuse.class, r -> assertThat(r.reason()).contains("not a mesh service"));
  }

  @Test
  void aServiceCanBeNamedInsteadOfItsVip() {
    // Filter chains are named <fqdn>:<port>, so a client may name the service instead of its VIP.
    assertThat(OutboundDecision.decide("127.0.1.10", null, 80, "web.d.svc.cluster.local", CONFIG))
        .isInstanceOf(OutboundDecision.Http.class);
  }

  @Test
  void meshEndpointsAreReachedOverHboneAsTheSourceAtTheEndpointsNodeOthersDirectly() throws Exception {
    var source = CONFIG.findLocal("127.0.1.10");
    var endpoints = CONFIG.findEndpoints("outbound|80||web.d.svc.cluster.local");
    assertThat(UpstreamTarget.of(source, endpoints.get(0), 15008)).isEqualTo(new UpstreamTarget.Hbone(
        SpiffeId.parse("spiffe://cluster.local/ns/d/sa/client"), SpiffeId.parse("spiffe://cluster.local/ns/d/sa/web"),
        new InetSocketAddress("127.0.2.1", 15008), "127.0.2.10:8080"));
    assertThat(UpstreamTarget.of(source, endpoints.get(1), 15008)).isEqualTo(new UpstreamTarget.Direct("192.0.2.7", 8080));
    EndpointSpec noNode = new EndpointSpec("10.0.0.5", 80, SpiffeId.parse("spiffe://cluster.local/ns/d/sa/x"), null, null,
        true, "d/x", null, 1);
    assertThat(UpstreamTarget.of(source, noNode, 15008)).isEqualTo(new UpstreamTarget.Hbone(source.identity(),
        noNode.identity(), new InetSocketAddress("10.0.0.5", 15008), "10.0.0.5:80"));
  }

  @Test
  void withCaptureHboneIsDialedAtThePodAddressExceptForPodsOfThisNode() throws Exception {
    var source = CONFIG.findLocal("127.0.1.10");
    EndpointSpec remote = new EndpointSpec("10.2.1.2", 8080, SpiffeId.parse("spiffe://cluster.local/ns/d/sa/web"),
        "node-2", "10.0.0.2", true, "d/web", null, 1);
    EndpointSpec local = new EndpointSpec("10.1.1.3", 8080, SpiffeId.parse("spiffe://cluster.local/ns/d/sa/web"),
        "node-1", "10.0.0.1", true, "d/web", null, 1);
    HboneDialing capture = HboneDialing.podAddresses(15008, "node-1", new InetSocketAddress("127.0.0.1", 15008));
    assertThat(UpstreamTarget.of(source, remote, capture)).isInstanceOfSatisfying(UpstreamTarget.Hbone.class, h -> {
      assertThat(h.dial()).isEqualTo(new InetSocketAddress("10.2.1.2", 15008));
      assertThat(h.authority()).isEqualTo("10.2.1.2:8080");
    });
    assertThat(UpstreamTarget.of(source, local, capture)).isInstanceOfSatisfying(UpstreamTarget.Hbone.class, h -> {
      assertThat(h.dial()).isEqualTo(new InetSocketAddress("127.0.0.1", 15008));
      assertThat(h.authority()).isEqualTo("10.1.1.3:8080");
    });
    assertThat(UpstreamTarget.of(source, remote, HboneDialing.nodeAddresses(15008)))
        .isInstanceOfSatisfying(UpstreamTarget.Hbone.class,
            h -> assertThat(h.dial()).isEqualTo(new InetSocketAddress("10.0.0.2", 15008)));
  }
}
