package dev.trellis.xds.server;

import static dev.trellis.xds.resource.ResourceType.CLUSTER;
import static dev.trellis.xds.resource.ResourceType.ENDPOINT;
import static dev.trellis.xds.resource.ResourceType.LISTENER;
import static dev.trellis.xds.resource.ResourceType.ROUTE;
import static dev.trellis.xds.resource.ResourceType.WORKLOAD;
import static dev.trellis.xds.testing.Resources.base;
import static dev.trellis.xds.testing.Resources.cluster;
import static dev.trellis.xds.testing.Resources.endpoints;
import static dev.trellis.xds.testing.Resources.listener;
import static dev.trellis.xds.testing.Resources.route;
import static dev.trellis.xds.testing.Resources.workload;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import dev.trellis.xds.cache.Snapshot;
import dev.trellis.xds.resource.ResourceType;
import dev.trellis.xds.testing.AdsHarness;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class SotwProtocolTest {

  private final AdsHarness ads = new AdsHarness();

  @AfterEach
  void close() throws Exception {
    ads.close();
  }


  static List<String> names(ResourceType type, DiscoveryResponse r) {
    return r.getResourcesList().stream().map(a -> unpack(type, a)).map(type::nameOf).sorted().toList();
  }

  static Message unpack(ResourceType type, Any any) {
    try {
      return type.unpack(any);
    } catch (InvalidProtocolBufferException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void wildcardClusterRequestGetsEveryClusterWithVersionAndNonce() {
    ads.publish(base());
    AdsHarness.Sotw client = ads.sotw("node-1");
    client.subscribe(CLUSTER);
    DiscoveryResponse r = client.take();
    assertThat(r.getTypeUrl()).isEqualTo(CLUSTER.typeUrl());
    assertThat(names(CLUSTER, r)).containsExactly("c1", "c2");
    assertThat(r.getVersionInfo()).isEqualTo(Long.toString(ads.store.current().version()));
    assertThat(r.getNonce()).isNotEmpty();
    client.assertNothingSent();
  }

  @Test
  void ackIsRecordedAndNothingIsResent() {
    ads.publish(base());
    AdsHarness.Sotw client = ads.sotw("node-1");
    client.subscribe(CLUSTER);
    DiscoveryResponse r = client.take();
    client.ack(r);
    client.assertNothingSent();
    ClientStatus status = ads.ads.registry().clients(Duration.ofSeconds(5)).getFirst();
    assertThat(status.clientId()).isEqualTo("node-1");
    assertThat(status.variant()).isEqualTo("sotw");
    assertThat(status.types()).singleElement().satisfies(t -> {
      assertThat(t.type()).isEqualTo("CDS");
      assertThat(t.wildcard()).isTrue();
      assertThat(t.ackedVersion()).isEqualTo(r.getVersionInfo());
      assertThat(t.acks()).isEqualTo(1);
    });
  }

  @Test
  void aChangedClusterResendsTheFullClusterSet() {
    ads.publish(base());
    AdsHarness.Sotw client = ads.sotw("node-1");
    client.subscribe(CLUSTER);
    client.ack(client.take());
    ads.publish(base().add(CLUSTER, cluster("c3")));
    DiscoveryResponse r = client.take();
    assertThat(names(CLUSTER, r)).containsExactly("c1", "c2", "c3");
  }

  @Test
  void endpointsAreSentPerNameAndOnlyWhenTheirOwnResourceChanges() {
    ads.publish(base());
    AdsHarness.Sotw client = ads.sotw("node-1");
    client.subscribe(ENDPOINT, "c1");
    DiscoveryResponse first = client.take();
    assertThat(names(ENDPOINT, first)).containsExactly("c1");
    client.ack(first, "c1");

    ads.publish(Snapshot.builder().add(CLUSTER, cluster("c1")).add(CLUSTER, cluster("c2"))
        .add(ENDPOINT, endpoints("c1", 8080)).add(ENDPOINT, endpoints("c2", 9999))
        .add(LISTENER, listener("l1")).add(ROUTE, route("r1", "c1")));
    client.assertNothingSent(); // c2 changed; this client watches c1 only

    ads.publish(base().add(ENDPOINT, endpoints("c3", 1)).add(CLUSTER, cluster("c3")));
    client.assertNothingSent();
  }

  @Test
  void nackIsRecordedWithItsErrorAndTheVersionIsNotResent() {
    ads.publish(base());
    AdsHarness.Sotw client = ads.sotw("node-1");
    client.subscribe(CLUSTER);
    DiscoveryResponse r = client.take();
    client.nack(r, "", "cluster c1: bad lb policy");
    client.assertNothingSent();
    ClientStatus.TypeStatus t = ads.ads.registry().clients(Duration.ofSeconds(5)).getFirst().types().getFirst();
    assertThat(t.nacks()).isEqualTo(1);
    assertThat(t.lastNackError()).isEqualTo("cluster c1: bad lb policy");
    assertThat(t.lastNackVersion()).isEqualTo(r.getVersionInfo());
    assertThat(ads.ads.metrics().nacks(CLUSTER)).isEqualTo(1);

    ads.publish(base().add(CLUSTER, cluster("c3")));
    assertThat(names(CLUSTER, client.take())).contains("c3");
  }

  @Test
  void staleNonceIsIgnored() {
    ads.publish(base());
    AdsHarness.Sotw client = ads.sotw("node-1");
    client.subscribe(ENDPOINT, "c1");
    DiscoveryResponse first = client.take();
    client.ack(first, "c1");
    client.send(DiscoveryRequest.newBuilder().setTypeUrl(ENDPOINT.typeUrl()).setResponseNonce("garbage-nonce")
        .addResourceNames("c1").addResourceNames("c2"));
    client.assertNothingSent();
    // The same change with the current nonce is honoured.
    client.ack(first, "c1", "c2");
    assertThat(names(ENDPOINT, client.take())).containsExactly("c2");
  }

  @Test
  void aFirstRequestCarryingANonceOfAnEarlierStreamIsAnswered() {
    ads.publish(base());
    AdsHarness.Sotw before = ads.sotw("node-1");
    before.subscribe(CLUSTER);
    DiscoveryResponse cds = before.take();
    before.ack(cds);
    before.subscribe(ENDPOINT, "c1");
    DiscoveryResponse eds = before.take();
    before.ack(eds, "c1");
    before.end();

    // A client reconnecting (e.g. to a restarted server) sends what it had, with the nonces of the old stream.
    AdsHarness.Sotw after = ads.sotw("node-1");
    after.send(DiscoveryRequest.newBuilder().setTypeUrl(CLUSTER.typeUrl()).setVersionInfo(cds.getVersionInfo())
        .setResponseNonce("17"));
    DiscoveryResponse clusters = after.take();
    assertThat(names(CLUSTER, clusters)).containsExactly("c1", "c2");
    after.ack(clusters);
    after.send(DiscoveryRequest.newBuilder().setTypeUrl(ENDPOINT.typeUrl()).setVersionInfo(eds.getVersionInfo())
        .setResponseNonce(eds.getNonce()).addResourceNames("c1"));
    DiscoveryResponse endpoints = after.take();
    assertThat(names(ENDPOINT, endpoints)).containsExactly("c1");
    after.ack(endpoints, "c1");
    after.assertNothingSent();
  }

  @Test
  void aNackOfAnAlreadyAckedNonceIsCountedAndShown() {
    ads.publish(base());
    AdsHarness.Sotw client = ads.sotw("node-1");
    client.subscribe(CLUSTER);
    DiscoveryResponse r = client.take();
    client.ack(r);
    client.nack(r, r.getVersionInfo(), "cluster c2: rejected after all");
    client.assertNothingSent();
    ClientStatus.TypeStatus t = ads.ads.registry().clients(Duration.ofSeconds(5)).getFirst().types().getFirst();
    assertThat(t.acks()).isEqualTo(1);
    assertThat(t.nacks()).as("not a NACK of the response in flight").isZero();
    assertThat(t.lateNacks()).isEqualTo(1);
    assertThat(t.lastLateNack()).isNotNull();
    assertThat(t.lastLateNack().nonce()).isEqualTo(r.getNonce());
    assertThat(t.lastLateNack().error()).isEqualTo("cluster c2: rejected after all");
    assertThat(t.lastLateNack().lastAcked()).as("the nonce was ACKed before").isTrue();
    assertThat(ads.ads.metrics().lateNacks(CLUSTER)).isEqualTo(1);

    // A NACK naming an older nonce, superseded by a newer response, is counted the same way.
    ads.publish(base().add(CLUSTER, cluster("c3")));
    DiscoveryResponse second = client.take();
    client.ack(second);
    client.nack(r, r.getVersionInfo(), "old");
    client.assertNothingSent();
    t = ads.ads.registry().clients(Duration.ofSeconds(5)).getFirst().types().getFirst();
    assertThat(t.lateNacks()).isEqualTo(2);
    assertThat(t.lastLateNack().error()).isEqualTo("old");
    assertThat(ads.ads.metrics().lateNacks(CLUSTER)).isEqualTo(2);
    assertThat(ads.ads.metrics().nacks(CLUSTER)).isZero();
  }

  @Test
  void oneResponseInFlightChangesCoalesceUntilTheAck() {
    ads.publish(base());
    AdsHarness.Sotw client = ads.sotw("node-1");
    client.subscribe(CLUSTER);
    DiscoveryResponse first = client.take();
    ads.publish(base().add(CLUSTER, cluster("c3")));
    ads.publish(base().add(CLUSTER, cluster("c3")).add(CLUSTER, cluster("c4")));
    client.assertNothingSent();
    client.ack(first);
    assertThat(names(CLUSTER, client.take())).containsExactly("c1", "c2", "c3", "c4");
    client.assertNothingSent();
  }

  @Test
  void makeBeforeBreakAddsTheNewClusterFirstAndRemovesTheOldOneLast() {
    ads.publish(base());
    AdsHarness.Sotw client = ads.sotw("node-1");
    client.subscribe(CLUSTER);
    client.ack(client.take());
    client.subscribe(ROUTE, "r1");
    client.ack(client.take(), "r1");

    // r1 moves from c1 to c3; c1 disappears.
    ads.publish(Snapshot.builder().add(CLUSTER, cluster("c2")).add(CLUSTER, cluster("c3"))
        .add(ENDPOINT, endpoints("c2", 8081)).add(ENDPOINT, endpoints("c3", 8082))
        .add(LISTENER, listener("l1")).add(ROUTE, route("r1", "c3")));

    DiscoveryResponse cds = client.take();
    assertThat(names(CLUSTER, cds)).as("c3 added, c1 kept until the route moved").containsExactly("c1", "c2", "c3");
    client.assertNothingSent();
    client.ack(cds);
    DiscoveryResponse rds = client.take();
    assertThat(rds.getTypeUrl()).isEqualTo(ROUTE.typeUrl());
    assertThat(((RouteConfiguration) unpack(ROUTE, rds.getResources(0))).getVirtualHosts(0).getRoutes(0).getRoute()
        .getCluster()).isEqualTo("c3");
    client.ack(rds, "r1");
    DiscoveryResponse finalCds = client.take();
    assertThat(names(CLUSTER, finalCds)).containsExactly("c2", "c3");
    client.ack(finalCds);
    client.assertNothingSent();
  }

  @Test
  void legacyWildcardThenExplicitNamesFollowTheProtocolExamples() {
    ads.publish(base().add(LISTENER, listener("l2")));
    AdsHarness.Sotw client = ads.sotw("node-1");
    client.subscribe(LISTENER);                      // empty: wildcard
    DiscoveryResponse r1 = client.take();
    assertThat(names(LISTENER, r1)).containsExactly("l1", "l2");
    client.ack(r1, "*", "l1");                      // wildcard + l1
    client.assertNothingSent();
    client.ack(r1, "l1");                           // only l1: the wildcard is gone
    DiscoveryResponse r2 = client.take();
    assertThat(names(LISTENER, r2)).containsExactly("l1");
    client.ack(r2);                                  // empty again: unsubscribes from all, no longer a wildcard
    DiscoveryResponse r3 = client.take();
    assertThat(r3.getResourcesCount()).isZero();
  }

  @Test
  void newlyRequestedNamesAreSentEvenIfSentBefore() {
    ads.publish(base());
    AdsHarness.Sotw client = ads.sotw("node-1");
    client.subscribe(ENDPOINT, "c1");
    DiscoveryResponse r = client.take();
    client.ack(r);                 // unsubscribe from c1
    client.assertNothingSent();
    client.ack(r, "c1");           // and back
    assertThat(names(ENDPOINT, client.take())).containsExactly("c1");
  }

  @Test
  void workloadsGoOnlyToTheirOwnNode() {
    Snapshot.Builder s = base().addForNode(WORKLOAD, "node-1", workload("shop/web", "node-1"))
        .addForNode(WORKLOAD, "node-2", workload("shop/db", "node-2"));
    ads.publish(s);
    AdsHarness.Sotw n1 = ads.sotw("node-1");
    n1.subscribe(WORKLOAD);
    DiscoveryResponse r = n1.take();
    assertThat(names(WORKLOAD, r)).containsExactly("shop/web");
    n1.ack(r);
    ads.publish(base().addForNode(WORKLOAD, "node-1", workload("shop/web", "node-1"))
        .addForNode(WORKLOAD, "node-2", workload("shop/db2", "node-2")));
    n1.assertNothingSent();
  }

  @Test
  void unknownTypeIsIgnoredAndTheStreamStaysUsable() {
    ads.publish(base());
    AdsHarness.Sotw client = ads.sotw("node-1");
    client.send(DiscoveryRequest.newBuilder().setTypeUrl("type.googleapis.com/nonsense.Thing"));
    client.assertNothingSent();
    assertThat(client.closed).isNull();
    client.subscribe(CLUSTER);
    assertThat(names(CLUSTER, client.take())).hasSize(2);
  }

  @Test
  void oversizedNameAndTooManyNamesCloseTheStreamWithAClearStatus() throws Exception {
    try (AdsHarness small = new AdsHarness(ClientAuthorizer.trustNodeId(), AdsLimits.defaults().withNames(3, 16))) {
      small.publish(base());
      AdsHarness.Sotw a = small.sotw("node-1");
      a.subscribe(ENDPOINT, "x".repeat(17));
      assertThat(a.closed.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
      assertThat(a.closed.getDescription()).contains("resource name of 17 characters exceeds the limit of 16");

      AdsHarness.Sotw b = small.sotw("node-1");
      b.subscribe(ENDPOINT, "a", "b", "c", "d");
      assertThat(b.closed.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
      assertThat(b.closed.getDescription()).contains("subscription to 4 EDS names exceeds the limit of 3");
      assertThat(small.ads.registry().size()).isZero();
    }
  }

  @Test
  void firstRequestWithoutNodeIdIsRefused() {
    AdsHarness.Sotw client = ads.sotw("");
    client.subscribe(CLUSTER);
    assertThat(client.closed.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(client.closed.getDescription()).contains("node.id");
  }

  @Test
  void closedStreamsLeaveTheRegistryAndStopWatching() {
    ads.publish(base());
    AdsHarness.Sotw client = ads.sotw("node-1");
    client.subscribe(CLUSTER);
    assertThat(ads.store.watcherCount()).isEqualTo(1);
    client.end();
    assertThat(ads.store.watcherCount()).isZero();
    assertThat(ads.ads.registry().size()).isZero();
  }
}
