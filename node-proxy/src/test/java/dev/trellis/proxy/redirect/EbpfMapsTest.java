package dev.trellis.proxy.redirect;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.Test;

class EbpfMapsTest {

  @Test
  void ipv4IsMappedIntoSixteenBytesAndPortsAreInNetworkOrder() {
    byte[] key = EbpfMaps.addrPort(new InetSocketAddress(InetAddress.ofLiteral("10.11.1.2"), 40001));
    assertThat(key).hasSize(EbpfMaps.ADDR_PORT);
    assertThat(key).startsWith(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff, 10, 11, 1, 2,
        (byte) 0x9c, 0x41, 0, 0); // 40001 = 0x9c41, then zeroed padding
  }

  @Test
  void anOriginalDestinationReadsBackAsTheAddressFamilyItWas() {
    InetSocketAddress v4 = new InetSocketAddress(InetAddress.ofLiteral("10.96.0.10"), 80);
    InetSocketAddress v6 = new InetSocketAddress(InetAddress.ofLiteral("fd00::10"), 8443);
    assertThat(EbpfMaps.readAddrPort(EbpfMaps.addrPort(v4))).isEqualTo(v4);
    assertThat(EbpfMaps.readAddrPort(EbpfMaps.addrPort(v4)).getAddress()).isInstanceOf(Inet4Address.class);
    assertThat(EbpfMaps.readAddrPort(EbpfMaps.addrPort(v6))).isEqualTo(v6);
  }

  @Test
  void theConfigHoldsTheProxyAddressesAndPortAsTheSocketHooksCompareThem() {
    byte[] c = EbpfMaps.config((Inet4Address) InetAddress.ofLiteral("10.10.0.1"),
        (Inet6Address) InetAddress.ofLiteral("fd00::1"), 15001);
    assertThat(c).hasSize(EbpfMaps.CONFIG);
    assertThat(c).startsWith(10, 10, 0, 1); // user_ip4 is network order
    assertThat(c[4 + 15]).isEqualTo((byte) 1);
    assertThat(new byte[] {c[20], c[21], c[22], c[23]}).containsExactly(0x3a, (byte) 0x99, 0, 0); // 15001, user_port
    assertThat(c[ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN ? 24 : 27]).isEqualTo((byte) 1);
    byte[] v4only = EbpfMaps.config((Inet4Address) InetAddress.ofLiteral("10.10.0.1"), null, 15001);
    assertThat(v4only[24] | v4only[25] | v4only[26] | v4only[27]).as("has_ip6").isZero();
  }

  @Test
  void exclusionKeysArePrefixLengthThenAddress() {
    byte[] k = EbpfMaps.lpm("10.96.9.0/24");
    assertThat(k).hasSize(EbpfMaps.LPM4);
    assertThat(new byte[] {k[4], k[5], k[6], k[7]}).containsExactly(10, 96, 9, 0);
    assertThat(EbpfMaps.lpm("fd00::/8")).hasSize(EbpfMaps.LPM6);
    assertThat(EbpfMaps.isV6("fd00::/8")).isTrue();
    assertThat(EbpfMaps.port(5432)).hasSize(2);
  }

  @Test
  void aPodsEntriesAreFoundByItsSourceAddresses() {
    byte[] mine = EbpfMaps.addrPort(new InetSocketAddress(InetAddress.ofLiteral("10.11.1.2"), 40001));
    byte[] mineToo = EbpfMaps.addrPort(new InetSocketAddress(InetAddress.ofLiteral("10.11.1.2"), 40002));
    byte[] other = EbpfMaps.addrPort(new InetSocketAddress(InetAddress.ofLiteral("10.11.1.3"), 40001));
    assertThat(EbpfMaps.keysFrom(List.of(mine, other, mineToo), List.of("10.11.1.2")))
        .containsExactly(mine, mineToo);
  }
}
