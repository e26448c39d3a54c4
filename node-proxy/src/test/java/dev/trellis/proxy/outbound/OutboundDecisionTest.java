package dev.trellis.proxy.outbound;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.proxy.egress.EgressFacts;
import dev.trellis.proxy.egress.Via;
import dev.trellis.proxy.entry.Arrival;
import dev.trellis.proxy.state.Cidr;
import dev.trellis.proxy.state.EndpointSpec;
import dev.trellis.proxy.state.ProxyConfig;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

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
    assertThat(decide("127.0.1.10", "93.184.216.34", 443))
        .isEqualTo(new OutboundDecision.Passthrough("93.184.216.34", 443, "127.0.1.10", Via.NODE));
  }

  @Test
  void aMeshWorkloadDialedByItsAddressIsTunneledToItNotPassedThrough() throws Exception {
    // web-0 is an in-mesh endpoint of EDS on node-2; client-0 is this node's own in-mesh workload.
    for (Arrival arrival : Arrival.values()) {
      assertThat(OutboundDecision.decide("127.0.1.10", ip("127.0.2.10"), 9000, null, CONFIG, arrival, NODE))
          .as("arrival %s", arrival).isInstanceOfSatisfying(OutboundDecision.MeshWorkload.class, w -> {
            assertThat(w.source().name()).isEqualTo("d/client-0");
            assertThat(w.target()).isEqualTo(new EndpointSpec("127.0.2.10", 9000,
                SpiffeId.parse("spiffe://cluster.local/ns/d/sa/web"), "node-2", "127.0.2.1", true, "d/web-0", "node-2",
                w.target().weight()));
          });
      assertThat(OutboundDecision.decide("127.0.1.10", ip("127.0.1.10"), 8080, null, CONFIG, arrival, NODE))
          .as("this node's own workload, arrival %s", arrival)
          .isInstanceOfSatisfying(OutboundDecision.MeshWorkload.class, w -> assertThat(w.target()).isEqualTo(
              new EndpointSpec("127.0.1.10", 8080, SpiffeId.parse("spiffe://cluster.local/ns/d/sa/client"), "node-1",
                  null, true, "d/client-0", "node-1", 1)));
    }
    assertThat(decide("127.0.1.10", "192.0.2.7", 8080)).as("an endpoint outside the mesh")
        .isInstanceOf(OutboundDecision.Passthrough.class);
    assertThat(decide("127.0.1.10", "127.0.2.99", 8080)).as("an address no mesh workload has")
        .isInstanceOf(OutboundDecision.Passthrough.class);
  }

  @Test
  void aMeshWorkloadOfThisNodeIsDialedAtThisProxysOwnHboneListenerInBothModes() throws Exception {
    var source = CONFIG.findLocal("127.0.1.10");
    EndpointSpec self = CONFIG.findMeshWorkload(ip("127.0.1.10"), 8080);
    InetSocketAddress own = new InetSocketAddress("127.0.1.1", 15008);
    assertThat(UpstreamTarget.of(source, self, HboneDialing.nodeAddresses(15008, "node-1", own)))
        .isInstanceOfSatisfying(UpstreamTarget.Hbone.class, h -> {
          assertThat(h.dial()).isEqualTo(own);
          assertThat(h.authority()).isEqualTo("127.0.1.10:8080");
          assertThat(h.destination()).isEqualTo(source.identity());
        });
    assertThat(UpstreamTarget.of(source, self, HboneDialing.podAddresses(15008, "node-1",
        new InetSocketAddress("127.0.0.1", 15008)))).isInstanceOfSatisfying(UpstreamTarget.Hbone.class,
        h -> assertThat(h.dial()).isEqualTo(new InetSocketAddress("127.0.0.1", 15008)));
  }

  static final EgressFacts NODE = new EgressFacts(Set.of(ip("10.0.0.1"), ip("10.1.1.1"), ip("fd00::1")), true);
  static final EgressFacts NODE_WITHOUT_SETNS = new EgressFacts(NODE.nodeAddresses(), false);

  private static InetAddress ip(String literal) {
    return InetAddress.ofLiteral(literal);
  }

  private static OutboundDecision captured(Arrival arrival, String destination, ProxyConfig config, EgressFacts node) {
    return OutboundDecision.decide("127.0.1.10", ip(destination), 8443, null, config, arrival, node);
  }

  /** What a captured pod's connection to a destination outside the mesh becomes, by how it was captured. */
  @ParameterizedTest(name = "{0} to {1}, setns {2} -> {3}")
  @CsvSource({
      "EBPF,   93.184.216.34,  true,  POD_NETNS",
      "EBPF,   93.184.216.34,  false, POD_ADDRESS",
      "TPROXY, 93.184.216.34,  true,  POD_ADDRESS",
      "TPROXY, 93.184.216.34,  false, POD_ADDRESS",
      "ENTRY,  93.184.216.34,  true,  NODE",
      "EBPF,   2001:db8::7,    true,  POD_NETNS",
      // an address beside the node's, in its subnet, is not the node's
      "EBPF,   10.0.0.2,       true,  POD_NETNS",
  })
  void passthroughOfACapturedPodLeavesAsThePodNeverAsTheNode(Arrival arrival, String destination, boolean setns,
      Via via) {
    assertThat(captured(arrival, destination, CONFIG, setns ? NODE : NODE_WITHOUT_SETNS))
        .isEqualTo(new OutboundDecision.Passthrough(ip(destination).getHostAddress(), 8443, "127.0.1.10", via));
  }

  /** Link-local, loopback, unspecified and the node's own addresses: refused for captured pods, by either capture. */
  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({
      "169.254.169.254, link-local (169.254.0.0/16",
      "169.254.0.1,     link-local (169.254.0.0/16",
      "169.254.255.255, link-local (169.254.0.0/16",
      "fe80::1,         link-local (fe80::/10",
      "febf:ffff::1,    link-local (fe80::/10",
      "10.0.0.1,        an address of this node",
      "10.1.1.1,        an address of this node",
      "fd00::1,         an address of this node",
      "127.0.0.1,       an address of this node",
      "127.8.9.10,      an address of this node",
      "::1,             an address of this node",
      "0.0.0.0,         an address of this node",
      "::,              an address of this node",
  })
  void linkLocalAndTheNodesOwnAddressesAreRefusedForCapturedPods(String destination, String what) {
    for (Arrival arrival : List.of(Arrival.EBPF, Arrival.TPROXY)) {
      assertThat(captured(arrival, destination, CONFIG, NODE)).as("%s", arrival)
          .isInstanceOfSatisfying(OutboundDecision.Refuse.class, r -> assertThat(r.reason())
              .contains("destination " + ip(destination).getHostAddress() + " is " + what)
              .contains("egress.allowCidrs"));
    }
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({"169.253.255.255", "169.255.0.0", "fe7f:ffff::1", "fec0::1", "10.0.0.3", "128.0.0.1"})
  void addressesBesideTheRefusedRangesPassThrough(String destination) {
    assertThat(captured(Arrival.TPROXY, destination, CONFIG, NODE)).isInstanceOf(OutboundDecision.Passthrough.class);
  }

  @Test
  void theAllowListLetsCapturedPodsReachWhatItNamesAndNothingElse() {
    ProxyConfig allowing = withAllowList(List.of(Cidr.of("169.254.169.254", 32), Cidr.of("10.0.0.1", 32),
        Cidr.of("fe80::", 64)));
    assertThat(captured(Arrival.EBPF, "169.254.169.254", allowing, NODE))
        .isEqualTo(new OutboundDecision.Passthrough("169.254.169.254", 8443, "127.0.1.10", Via.POD_NETNS));
    assertThat(captured(Arrival.TPROXY, "10.0.0.1", allowing, NODE))
        .isEqualTo(new OutboundDecision.Passthrough("10.0.0.1", 8443, "127.0.1.10", Via.POD_ADDRESS));
    assertThat(captured(Arrival.EBPF, "fe80::99", allowing, NODE)).isInstanceOf(OutboundDecision.Passthrough.class);
    assertThat(captured(Arrival.EBPF, "169.254.169.253", allowing, NODE)).isInstanceOf(OutboundDecision.Refuse.class);
    assertThat(captured(Arrival.EBPF, "10.1.1.1", allowing, NODE)).isInstanceOf(OutboundDecision.Refuse.class);
    assertThat(captured(Arrival.EBPF, "fe80:0:0:1::1", allowing, NODE)).isInstanceOf(OutboundDecision.Refuse.class);
  }

  @Test
  void theLocalEntryKeepsReachingWhatItReachedBefore() {
    for (String destination : List.of("169.254.169.254", "10.0.0.1", "127.0.0.1", "fe80::1")) {
      assertThat(captured(Arrival.ENTRY, destination, CONFIG, NODE)).isEqualTo(new OutboundDecision.Passthrough(
          ip(destination).getHostAddress(), 8443, "127.0.1.10", Via.NODE));
    }
  }

  @Test
  void meshServicesAndUnknownSourcesAreDecidedBeforeTheEgressLimits() {
    ProxyConfig c = CONFIG;
    assertThat(OutboundDecision.decide("127.0.1.10", ip("10.96.0.10"), 80, null, c, Arrival.EBPF, NODE))
        .isInstanceOf(OutboundDecision.Http.class);
    assertThat(OutboundDecision.decide("10.9.9.9", ip("169.254.169.254"), 80, null, c, Arrival.EBPF, NODE))
        .isInstanceOfSatisfying(OutboundDecision.Refuse.class, r -> assertThat(r.reason()).contains("not a workload"));
  }

  private static ProxyConfig withAllowList(List<Cidr> allow) {
    return new ProxyConfig(CONFIG.version(), CONFIG.outbound(), CONFIG.clusters(), CONFIG.endpoints(), CONFIG.routes(),
        CONFIG.localByAddress(), allow);
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
