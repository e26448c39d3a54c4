package dev.trellis.proxy.outbound;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.proxy.state.ProxyConfig;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

class OutboundDecisionTest {

  static final ProxyConfig CONFIG = dev.trellis.proxy.state.ProxyConfigsTest.config();
  static final String WEB = "outbound|80||web.d.svc.cluster.local";

  private static OutboundDecision decide(String source, String destination, int port, int ticket) throws Exception {
    return OutboundDecision.decide(source, InetAddress.getByName(destination), port, null, CONFIG, bound -> ticket,
        cluster -> 0, 15008);
  }

  @Test
  void aMeshServiceIsReachedOverHboneAsTheSourceWorkloadAtTheEndpointsNode() throws Exception {
    OutboundDecision d = decide("127.0.1.10", "10.96.0.10", 80, 0);
    assertThat(d).isEqualTo(new OutboundDecision.Hbone(SpiffeId.parse("spiffe://cluster.local/ns/d/sa/client"),
        SpiffeId.parse("spiffe://cluster.local/ns/d/sa/web"), new InetSocketAddress("127.0.2.1", 15008),
        "127.0.2.10:8080", WEB));
  }

  @Test
  void weightedSplitChoosesTheClusterByTicket() throws Exception {
    // The catch-all route goes to WEB only; the canary split needs a header, so L4 always takes WEB.
    assertThat(((OutboundDecision.Hbone) decide("127.0.1.10", "10.96.0.10", 80, 0)).cluster()).isEqualTo(WEB);
  }

  @Test
  void anEndpointOutsideTheMeshIsReachedDirectly() throws Exception {
    OutboundDecision d = OutboundDecision.decide("127.0.1.10", InetAddress.getByName("10.96.0.10"), 80, null, CONFIG,
        b -> 0, c -> 1, 15008);
    assertThat(d).isEqualTo(new OutboundDecision.Direct("192.0.2.7", 8080, WEB));
  }

  @Test
  void aDestinationThatIsNoMeshServiceLeavesAsItCame() throws Exception {
    assertThat(decide("127.0.1.10", "93.184.216.34", 443, 0)).isEqualTo(new OutboundDecision.Direct("93.184.216.34", 443, null));
  }

  @Test
  void refusals() throws Exception {
    assertThat(decide("127.0.9.9", "10.96.0.10", 80, 0)).isInstanceOfSatisfying(OutboundDecision.Refuse.class,
        r -> assertThat(r.reason()).contains("source 127.0.9.9 is not a workload on this node"));
    assertThat(decide("127.0.1.10", "10.96.0.11", 5432, 0)).isInstanceOfSatisfying(OutboundDecision.Refuse.class,
        r -> assertThat(r.reason()).contains("no endpoints for outbound|5432||db.d.svc.cluster.local"));
    assertThat(OutboundDecision.decide("127.0.1.10", null, 80, "nowhere.example", CONFIG, b -> 0, c -> 0, 15008))
        .isInstanceOfSatisfying(OutboundDecision.Refuse.class, r -> assertThat(r.reason()).contains("not a mesh service"));
  }

  @Test
  void aServiceCanBeNamedInsteadOfItsVip() {
    // Filter chains are named <fqdn>:<port>, so a client may name the service instead of its VIP.
    OutboundDecision d = OutboundDecision.decide("127.0.1.10", null, 80, "web.d.svc.cluster.local", CONFIG, b -> 0,
        c -> 0, 15008);
    assertThat(d).isInstanceOf(OutboundDecision.Hbone.class);
  }
}
