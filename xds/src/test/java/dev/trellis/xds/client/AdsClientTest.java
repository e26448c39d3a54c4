package dev.trellis.xds.client;

import static dev.trellis.xds.resource.ResourceType.CLUSTER;
import static dev.trellis.xds.resource.ResourceType.ENDPOINT;
import static dev.trellis.xds.resource.ResourceType.LISTENER;
import static dev.trellis.xds.testing.Resources.cluster;
import static dev.trellis.xds.testing.Resources.endpoints;
import static dev.trellis.xds.testing.Resources.listener;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Message;
import dev.trellis.mtls.svid.Backoff;
import dev.trellis.mtls.testing.ManualClock;
import dev.trellis.mtls.testing.ManualScheduler;
import dev.trellis.xds.cache.Snapshot;
import dev.trellis.xds.server.ClientStatus;
import dev.trellis.xds.testing.AdsHarness;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.grpc.Status;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class AdsClientTest {

  private final AdsHarness ads = new AdsHarness();
  private final ManualScheduler scheduler = new ManualScheduler(new ManualClock(Instant.parse("2026-01-01T00:00:00Z")));
  private AdsClient client;

  @AfterEach
  void close() throws Exception {
    if (client != null) {
      client.close();
      scheduler.runDue();
    }
    ads.close();
  }

  private AdsClient client(AdsClient.Protocol protocol) {
    client = AdsClient.builder(ads.channel(), Node.newBuilder().setId("node-1").build(), scheduler)
        .protocol(protocol)
        .backoff(Backoff.exponential(Duration.ofSeconds(1), Duration.ofSeconds(8), 2.0, 0.0, new Random(0)))
        .build();
    return client;
  }

  private static Snapshot.Builder base(int c1Port) {
    return Snapshot.builder().add(CLUSTER, cluster("c1")).add(CLUSTER, cluster("c2"))
        .add(ENDPOINT, endpoints("c1", c1Port)).add(ENDPOINT, endpoints("c2", 8081)).add(LISTENER, listener("l1"));
  }

  /** Records what a watcher was told, as short strings. */
  static final class Recorder<T extends Message> implements ResourceWatcher<T> {
    final List<String> events = new ArrayList<>();

    @Override
    public void onChanged(String name, T resource) {
      if (resource instanceof ClusterLoadAssignment cla) {
        events.add("changed " + name + " port " + cla.getEndpoints(0).getLbEndpoints(0).getEndpoint().getAddress()
            .getSocketAddress().getPortValue());
      } else {
        events.add("changed " + name);
      }
    }

    @Override
    public void onRemoved(String name) {
      events.add("removed " + name);
    }

    @Override
    public void onResourceError(String name, String error) {
      events.add("error " + name + ": " + error);
    }

    @Override
    public void onAmbientError(Status status) {
      events.add("ambient " + status.getCode());
    }
  }

  @ParameterizedTest
  @EnumSource(AdsClient.Protocol.class)
  void aTypeCountsAsReceivedOnlyOnceItsWatchersHaveTheResponse(AdsClient.Protocol protocol) {
    // A node proxy's readiness reads hasReceived from another thread: it must never be true while the
    // watchers (and the config built from them) still lack the first response.
    ads.publish(base(8080));
    AdsClient c = client(protocol);
    List<Boolean> receivedWhileDelivering = new ArrayList<>();
    c.watch(CLUSTER, "*", new ResourceWatcher<Message>() {
      @Override
      public void onChanged(String name, Message resource) {
        receivedWhileDelivering.add(c.hasReceived(CLUSTER));
      }

      @Override
      public void onRemoved(String name) {}

      @Override
      public void onResourceError(String name, String error) {}

      @Override
      public void onAmbientError(Status status) {}
    });
    c.start();
    scheduler.runDue();
    assertThat(receivedWhileDelivering).containsExactly(false, false);
    assertThat(c.hasReceived(CLUSTER)).isTrue();
  }

  @ParameterizedTest
  @EnumSource(AdsClient.Protocol.class)
  void watchersSeeResourcesChangesAndRemovals(AdsClient.Protocol protocol) {
    ads.publish(base(8080));
    AdsClient c = client(protocol);
    Recorder<Message> clusters = new Recorder<>();
    Recorder<ClusterLoadAssignment> c1 = new Recorder<>();
    c.watch(CLUSTER, "*", clusters);
    c.watch(ENDPOINT, "c1", c1);
    c.start();
    scheduler.runDue();
    assertThat(clusters.events).containsExactlyInAnyOrder("changed c1", "changed c2");
    assertThat(c1.events).containsExactly("changed c1 port 8080");
    assertThat(c.hasReceived(CLUSTER)).isTrue();
    assertThat(c.hasReceived(LISTENER)).as("not watched").isFalse();

    ads.publish(base(9090));
    scheduler.runDue();
    assertThat(c1.events).containsExactly("changed c1 port 8080", "changed c1 port 9090");

    ads.publish(Snapshot.builder().add(CLUSTER, cluster("c1")).add(ENDPOINT, endpoints("c1", 9090)));
    scheduler.runDue();
    assertThat(clusters.events).endsWith("removed c2");
    assertThat(ads.ads.registry().clients(Duration.ofSeconds(5))).singleElement()
        .satisfies(s -> assertThat(s.types()).allSatisfy(t -> assertThat(t.nacks()).isZero()));
  }

  @ParameterizedTest
  @EnumSource(AdsClient.Protocol.class)
  void anInvalidResourceIsNackedWithItsReasonAndTheLastGoodOneStays(AdsClient.Protocol protocol) {
    ads.publish(base(8080));
    AdsClient c = client(protocol);
    Recorder<ClusterLoadAssignment> c1 = new Recorder<>();
    Recorder<ClusterLoadAssignment> c2 = new Recorder<>();
    c.watch(ENDPOINT, "c1", c1);
    c.watch(ENDPOINT, "c2", c2);
    c.start();
    scheduler.runDue();

    // c1 gets an impossible port; c2 changes validly in the same publication.
    ads.publish(Snapshot.builder().add(CLUSTER, cluster("c1")).add(CLUSTER, cluster("c2"))
        .add(ENDPOINT, endpoints("c1", 0)).add(ENDPOINT, endpoints("c2", 7000)).add(LISTENER, listener("l1")));
    scheduler.runDue();
    assertThat(c1.events).containsExactly("changed c1 port 8080",
        "error c1: cluster_load_assignment c1: endpoint 127.0.0.1 port_value 0 (expected: 1..65535)");
    assertThat(c2.events).containsExactly("changed c2 port 8081", "changed c2 port 7000");

    ClientStatus.TypeStatus eds = ads.ads.registry().clients(Duration.ofSeconds(5)).getFirst().types().stream()
        .filter(t -> t.type().equals("EDS")).findFirst().orElseThrow();
    assertThat(eds.nacks()).isEqualTo(1);
    assertThat(eds.lastNackError()).contains("port_value 0 (expected: 1..65535)");
  }

  @ParameterizedTest
  @EnumSource(AdsClient.Protocol.class)
  void keepsTheLastGoodConfigWhileTheControlPlaneIsAwayAndResumes(AdsClient.Protocol protocol) throws Exception {
    ads.publish(base(8080));
    AdsClient c = client(protocol);
    Recorder<ClusterLoadAssignment> c1 = new Recorder<>();
    c.watch(ENDPOINT, "c1", c1);
    c.start();
    scheduler.runDue();

    ads.stop();
    scheduler.runDue();
    assertThat(c1.events).containsExactly("changed c1 port 8080", "ambient UNAVAILABLE");
    // Reconnect attempts fail with growing delays: 1 s, 2 s, 4 s.
    assertThat(scheduler.pendingDelays()).containsExactly(Duration.ofSeconds(1));
    scheduler.advance(Duration.ofSeconds(1));
    assertThat(scheduler.pendingDelays()).containsExactly(Duration.ofSeconds(2));
    scheduler.advance(Duration.ofSeconds(2));
    assertThat(scheduler.pendingDelays()).containsExactly(Duration.ofSeconds(4));
    assertThat(c1.events).doesNotContain("removed c1");

    ads.publish(base(9191)); // changed while the client was away
    ads.restart();
    // The channel's own connection backoff has grown meanwhile (real time); the client resets it on its
    // reconnect, else the new stream would fail at once and the client would stay away.
    scheduler.advance(Duration.ofSeconds(4));
    assertThat(c1.events.getLast()).isEqualTo("changed c1 port 9191");
    assertThat(c1.events).doesNotContain("removed c1");
    assertThat(ads.ads.registry().size()).isEqualTo(1);
  }

  @Test
  void theDefaultReconnectBackoffBringsAClientBackWithinFourSecondsWhateverTheOutageLasted() {
    for (int attempt = 1; attempt <= 40; attempt++) {
      assertThat(AdsClient.RECONNECT_BACKOFF.delay(attempt))
          .isGreaterThanOrEqualTo(Duration.ofMillis(350)).isLessThan(Duration.ofMillis(3_901));
    }
    assertThat(AdsClient.RECONNECT_BACKOFF.delay(1)).isLessThanOrEqualTo(Duration.ofMillis(650));
  }
}
