package dev.trellis.proxy.inbound;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.trellis.proxy.state.LocalWorkload;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;

/**
 * Fuzzes the {@code :authority} of an HBONE CONNECT, which any mesh peer with a valid certificate chooses. Parsing
 * accepts only an IP literal and a port 1..65535 ({@code [v6]:port} for IPv6) and hands on the address in its one
 * canonical spelling; the decision never throws, and forwards only to a local workload's address on a port that is
 * not the proxy's own.
 */
class HboneAuthorityFuzzTest {

  @FuzzTest
  void authority(byte[] input) {
    String authority = new String(input, StandardCharsets.UTF_8);
    InboundDecision.HostPort hp = InboundDecision.HostPort.parse(authority);
    if (hp != null) {
      assertThat(hp.port()).isBetween(1, 65535);
      InetAddress address = InetAddress.ofLiteral(hp.host());
      assertThat(address.getHostAddress()).as("canonical form of %s", authority).isEqualTo(hp.host());
      int colon = authority.lastIndexOf(':');
      assertThat(authority.substring(colon + 1)).as("the port of %s is in decimal digits", authority)
          .matches("[0-9]+");
      String host = authority.substring(0, colon);
      assertThat(host.startsWith("[") == host.contains(":")).as("IPv6 exactly when bracketed: %s", authority).isTrue();
    }

    // the connection presented the identity of the workload the authority names (what the caller dialed), so
    // a well-formed authority of a local workload is forwarded and everything else is refused
    LocalWorkload named = hp == null ? null : InboundDecisionTest.CONFIG.findLocal(hp.host());
    InboundDecision d = InboundDecision.decide("CONNECT", authority, InboundDecisionTest.PEER,
        named == null ? null : named.identity(), InboundDecisionTest.CONFIG, InboundDecisionTest.OWN);
    if (d instanceof InboundDecision.Forward f) {
      assertThat(hp).isNotNull();
      assertThat(InboundDecisionTest.CONFIG.findLocal(f.address())).isEqualTo(f.target());
      assertThat(f.address()).isEqualTo(hp.host());
      assertThat(f.port()).isEqualTo(hp.port());
      assertThat(InboundDecisionTest.OWN).doesNotContain(f.port());
    } else {
      assertThat(((InboundDecision.Reject) d).status()).isIn(400, 401);
    }
  }
}
