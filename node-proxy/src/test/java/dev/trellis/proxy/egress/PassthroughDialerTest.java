package dev.trellis.proxy.egress;

import dev.trellis.proxy.refusal.Refusals;
import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.mtls.testing.ManualClock;
import dev.trellis.mtls.testing.ManualScheduler;
import dev.trellis.proxy.transport.Transport;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.Future;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** What the dialer does without entering namespaces (root-only paths: PodNetnsDialIT, TransparentMeshIT). */
class PassthroughDialerTest {

  final EventLoopGroup loops = Transport.newGroup(1, "dialer-test");

  @AfterEach
  void stop() {
    loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }

  @Test
  void localModeDialsFromTheNodeAndKnowsNothingToRefuse() throws Exception {
    try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        PassthroughDialer dialer = PassthroughDialer.local(new Refusals(System::nanoTime))) {
      assertThat(dialer.facts()).isEqualTo(EgressFacts.NONE);
      Future<Channel> f = dialer.dial(loops.next(), 2000, Via.NODE, null,
          new InetSocketAddress(server.getInetAddress(), server.getLocalPort()));
      Channel ch = f.get(5, TimeUnit.SECONDS);
      assertThat(ch.isActive()).isTrue();
      ch.close().syncUninterruptibly();
    }
  }

  @Test
  void withoutTheAgentsStateAPodNamespaceDialFailsNamingTheFlagAndNeverConnects() {
    try (PassthroughDialer dialer = PassthroughDialer.local(new Refusals(System::nanoTime))) {
      Future<Channel> f = dialer.dial(loops.next(), 2000, Via.POD_NETNS, InetAddress.ofLiteral("10.1.0.2"),
          new InetSocketAddress(InetAddress.getLoopbackAddress(), 9));
      assertThat(f.awaitUninterruptibly(5, TimeUnit.SECONDS)).isTrue();
      assertThat(f.cause()).isInstanceOfSatisfying(EgressException.class, e -> {
        assertThat(e.reason()).isEqualTo(EgressException.Reason.NETNS_UNKNOWN);
        assertThat(e.getMessage()).contains("--agent-state");
      });
    }
  }

  @Test
  void dialingFromAPodsAddressWithoutEpollFailsTheDialInsteadOfThrowing() {
    try (PassthroughDialer dialer = PassthroughDialer.local(new Refusals(System::nanoTime))) {
      Future<Channel> f = dialer.dial(loops.next(), 2000, Via.POD_ADDRESS, InetAddress.ofLiteral("10.1.0.2"),
          new InetSocketAddress(InetAddress.getLoopbackAddress(), 9));
      assertThat(f.awaitUninterruptibly(5, TimeUnit.SECONDS)).isTrue();
      if (Transport.current() == Transport.NIO) {
        assertThat(f.cause()).isInstanceOf(IllegalStateException.class).hasMessageContaining("epoll");
      }
    }
  }

  @Test
  void captureModeWithoutTheAgentsStateUsesThePodsAddressAndKeepsTheNodesAddressesCurrent() {
    ManualScheduler scheduler = new ManualScheduler(new ManualClock(Instant.now()));
    InetAddress node = InetAddress.ofLiteral("192.0.2.10"); // not on any interface here: the configured one counts
    try (PassthroughDialer dialer = PassthroughDialer.capture(node, null, scheduler, new Refusals(System::nanoTime))) {
      assertThat(dialer.facts().podNetns()).isFalse();
      assertThat(dialer.facts().nodeAddresses()).contains(node, InetAddress.ofLiteral("127.0.0.1"));
      assertThat(scheduler.pendingDelays()).containsExactly(Duration.ofSeconds(PassthroughDialer.REFRESH_SECONDS));
      EgressFacts before = dialer.facts();
      scheduler.advance(Duration.ofSeconds(PassthroughDialer.REFRESH_SECONDS));
      assertThat(dialer.facts()).as("unchanged addresses: the same value").isSameAs(before);
    }
    assertThat(scheduler.pendingDelays()).as("closing stops the refresh").isEmpty();
  }
}
