package dev.trellis.proxy.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.channel.epoll.Epoll;
import org.junit.jupiter.api.Test;

class TransportTest {

  @Test
  void epollIsTheDefaultOnLinuxAndNioCanBeForced() {
    if (System.getProperty("os.name").startsWith("Linux")) {
      assertThat(Epoll.isAvailable()).as("native epoll loads: %s", Epoll.unavailabilityCause()).isTrue();
      assertThat(Transport.choose(null)).isEqualTo(Transport.EPOLL);
      assertThat(Transport.choose("EPOLL")).isEqualTo(Transport.EPOLL);
    }
    assertThat(Transport.choose(" nio ")).isEqualTo(Transport.NIO);
  }

  @Test
  void anUnknownTransportNamesTheChoices() {
    assertThatThrownBy(() -> Transport.choose("uring"))
        .hasMessage("trellis.transport: 'uring' (expected: epoll or nio)");
  }
}
