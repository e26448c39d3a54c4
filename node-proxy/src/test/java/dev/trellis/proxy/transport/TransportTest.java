package dev.trellis.proxy.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.epoll.Epoll;
import org.junit.jupiter.api.Test;

class TransportTest {

  @Test
  void nioUnlessEpollIsAskedFor() {
    assertThat(Transport.choose(null)).isEqualTo(Transport.NIO);
    assertThat(Transport.choose(" NIO ")).isEqualTo(Transport.NIO);
    if (System.getProperty("os.name").startsWith("Linux")) {
      assertThat(Epoll.isAvailable()).as("native epoll loads: %s", Epoll.unavailabilityCause()).isTrue();
      assertThat(Transport.choose("epoll")).isEqualTo(Transport.EPOLL);
    }
    assertThatThrownBy(() -> Transport.choose("uring")).hasMessage("trellis.transport: 'uring' (expected: nio or epoll)");
  }

  @Test
  void transparentListenersNameTheFlagTheyNeed() {
    assertThat(Transport.current()).isEqualTo(Transport.NIO);
    assertThatThrownBy(() -> Transport.transparent(new ServerBootstrap()))
        .hasMessageContaining("run the node proxy with -Dtrellis.transport=epoll");
  }
}
