package dev.trellis.xds.server;

import static dev.trellis.xds.resource.ResourceType.CLUSTER;
import static dev.trellis.xds.resource.ResourceType.ENDPOINT;
import static dev.trellis.xds.resource.ResourceType.LISTENER;
import static dev.trellis.xds.resource.ResourceType.ROUTE;
import static dev.trellis.xds.testing.Resources.base;
import static dev.trellis.xds.testing.Resources.cluster;
import static dev.trellis.xds.testing.Resources.endpoints;
import static dev.trellis.xds.testing.Resources.listener;
import static dev.trellis.xds.testing.Resources.route;
import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.xds.cache.Snapshot;
import dev.trellis.xds.testing.AdsHarness;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.Resource;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class DeltaProtocolTest {

  private final AdsHarness ads = new AdsHarness();

  @AfterEach
  void close() throws Exception {
    ads.close();
  }


  private static List<String> names(DeltaDiscoveryResponse r) {
    return r.getResourcesList().stream().map(Resource::getName).sorted().toList();
  }

  private static Map<String, String> versions(DeltaDiscoveryResponse r) {
    return r.getResourcesList().stream().collect(Collectors.toMap(Resource::getName, Resource::getVersion));
  }

  @Test
  void legacyWildcardGetsEveryResourceWithPerResourceVersions() {
    ads.publish(base());
    AdsHarness.Delta client = ads.delta("node-1");
    client.send(DeltaDiscoveryRequest.newBuilder().setTypeUrl(CLUSTER.typeUrl()));
    DeltaDiscoveryResponse r = client.take();
    assertThat(names(r)).containsExactly("c1", "c2");
    assertThat(versions(r).values()).allMatch(v -> v.length() == 16);
    assertThat(r.getRemovedResourcesList()).isEmpty();
    client.ack(r);
    client.assertNothingSent();
  }

  @Test
  void theFirstRequestOfATypeIsAnsweredEvenWhenThereIsNothingToSend() {
    ads.publish(base());
    AdsHarness.Delta client = ads.delta("node-1");
    client.send(DeltaDiscoveryRequest.newBuilder().setTypeUrl(dev.trellis.xds.resource.ResourceType.WORKLOAD.typeUrl()));
    DeltaDiscoveryResponse r = client.take();
    assertThat(r.getResourcesList()).isEmpty();
    client.ack(r);
    client.assertNothingSent();
  }

  @Test
  void onlyTheChangedResourceIsSent() {
    ads.publish(base());
    AdsHarness.Delta client = ads.delta("node-1");
    client.subscribe(CLUSTER, "*");
    client.ack(client.take());
    ads.publish(Snapshot.builder().add(CLUSTER, cluster("c1", 5)).add(CLUSTER, cluster("c2"))
        .add(ENDPOINT, endpoints("c1", 8080)).add(ENDPOINT, endpoints("c2", 8081))
        .add(LISTENER, listener("l1")).add(ROUTE, route("r1", "c1")));
    DeltaDiscoveryResponse r = client.take();
    assertThat(names(r)).containsExactly("c1");
  }

  @Test
  void removalComesInRemovedResourcesAfterOtherUpdates() {
    ads.publish(base());
    AdsHarness.Delta client = ads.delta("node-1");
    client.subscribe(CLUSTER, "*");
    client.ack(client.take());
    client.subscribe(ENDPOINT, "c1", "c2");
    client.ack(client.take());
    // c2 goes away, c1's endpoints change in the same publication.
    ads.publish(Snapshot.builder().add(CLUSTER, cluster("c1")).add(ENDPOINT, endpoints("c1", 9090))
        .add(LISTENER, listener("l1")).add(ROUTE, route("r1", "c1")));
    DeltaDiscoveryResponse eds = client.take();
    assertThat(eds.getTypeUrl()).isEqualTo(ENDPOINT.typeUrl());
    assertThat(names(eds)).containsExactly("c1");
    assertThat(eds.getRemovedResourcesList()).isEmpty();
    client.ack(eds);
    DeltaDiscoveryResponse cds = client.take();
    assertThat(cds.getRemovedResourcesList()).containsExactly("c2");
    client.ack(cds);
    DeltaDiscoveryResponse edsRemoval = client.take();
    assertThat(edsRemoval.getRemovedResourcesList()).containsExactly("c2");
    client.ack(edsRemoval);
    client.assertNothingSent();
  }

  @Test
  void subscribingToAMissingResourceIsAnsweredAtOnceAndItArrivesWhenCreated() {
    ads.publish(base());
    AdsHarness.Delta client = ads.delta("node-1");
    client.subscribe(ROUTE, "r9");
    DeltaDiscoveryResponse r = client.take();
    assertThat(r.getResourcesList()).isEmpty();
    assertThat(r.getRemovedResourcesList()).containsExactly("r9");
    client.ack(r);
    client.assertNothingSent();
    ads.publish(base().add(ROUTE, route("r9", "c2")));
    assertThat(names(client.take())).containsExactly("r9");
  }

  @Test
  void reconnectWithInitialVersionsOnlySendsWhatDiffers() {
    ads.publish(base());
    AdsHarness.Delta first = ads.delta("node-1");
    first.subscribe(CLUSTER, "*");
    DeltaDiscoveryResponse all = first.take();
    Map<String, String> known = versions(all);
    first.end();

    // While disconnected: c1 changes, c2 is removed, c3 appears.
    ads.publish(Snapshot.builder().add(CLUSTER, cluster("c1", 7)).add(CLUSTER, cluster("c3"))
        .add(LISTENER, listener("l1")));
    AdsHarness.Delta again = ads.delta("node-1");
    again.send(DeltaDiscoveryRequest.newBuilder().setTypeUrl(CLUSTER.typeUrl()).addResourceNamesSubscribe("*")
        .putAllInitialResourceVersions(known));
    DeltaDiscoveryResponse r = again.take();
    assertThat(names(r)).containsExactly("c1", "c3");
    again.ack(r);
    DeltaDiscoveryResponse removal = again.take();
    assertThat(removal.getRemovedResourcesList()).containsExactly("c2");

    // A resource the client already has at the current version is not resent.
    AdsHarness.Delta third = ads.delta("node-1");
    third.send(DeltaDiscoveryRequest.newBuilder().setTypeUrl(LISTENER.typeUrl()).addResourceNamesSubscribe("*")
        .putInitialResourceVersions("l1", ads.store.current().view(LISTENER, "node-1").get("l1").version()));
    DeltaDiscoveryResponse nothingNew = third.take();
    assertThat(nothingNew.getResourcesList()).isEmpty();
    assertThat(nothingNew.getRemovedResourcesList()).isEmpty();
  }

  @Test
  void reconnectWithInitialVersionsSparesByNameSubscriptionsWhatTheClientHas() {
    ads.publish(base().add(ROUTE, route("r2", "c2")).add(ROUTE, route("r3", "c1")));
    AdsHarness.Delta first = ads.delta("node-1");
    first.subscribe(ROUTE, "r1", "r2", "r3");
    DeltaDiscoveryResponse all = first.take();
    assertThat(names(all)).containsExactly("r1", "r2", "r3");
    Map<String, String> known = versions(all);
    first.end();

    // While disconnected: r2 changes, r3 is removed, r1 stays as it was.
    ads.publish(base().add(ROUTE, route("r2", "c1")));
    AdsHarness.Delta again = ads.delta("node-1");
    again.send(DeltaDiscoveryRequest.newBuilder().setTypeUrl(ROUTE.typeUrl())
        .addResourceNamesSubscribe("r1").addResourceNamesSubscribe("r2").addResourceNamesSubscribe("r3")
        .putAllInitialResourceVersions(known));
    DeltaDiscoveryResponse r = again.take();
    assertThat(names(r)).as("r1 is unchanged: not resent").containsExactly("r2");
    assertThat(r.getRemovedResourcesList()).containsExactly("r3");
    again.ack(r);
    again.assertNothingSent();

    // The same for endpoints, whose removals wait until nothing else is pending.
    AdsHarness.Delta eds = ads.delta("node-2");
    eds.subscribe(ENDPOINT, "c1", "c2");
    Map<String, String> edsKnown = versions(eds.take());
    eds.end();
    ads.publish(Snapshot.builder().add(CLUSTER, cluster("c1")).add(ENDPOINT, endpoints("c1", 8080))
        .add(LISTENER, listener("l1")).add(ROUTE, route("r1", "c1")));
    AdsHarness.Delta edsAgain = ads.delta("node-2");
    edsAgain.send(DeltaDiscoveryRequest.newBuilder().setTypeUrl(ENDPOINT.typeUrl())
        .addResourceNamesSubscribe("c1").addResourceNamesSubscribe("c2").putAllInitialResourceVersions(edsKnown));
    DeltaDiscoveryResponse answer = edsAgain.take();
    assertThat(answer.getResourcesList()).as("c1 is unchanged: not resent").isEmpty();
    List<String> removed = new ArrayList<>(answer.getRemovedResourcesList());
    if (removed.isEmpty()) {
      edsAgain.ack(answer);
      removed.addAll(edsAgain.take().getRemovedResourcesList());
    }
    assertThat(removed).containsExactly("c2");
  }

  @Test
  void subscribingByNameWithoutInitialVersionsStillResendsOnReconnect() {
    ads.publish(base());
    AdsHarness.Delta client = ads.delta("node-1");
    client.subscribe(ROUTE, "r1");
    assertThat(names(client.take())).containsExactly("r1");
    client.end();
    AdsHarness.Delta again = ads.delta("node-1");
    again.subscribe(ROUTE, "r1");
    assertThat(names(again.take())).containsExactly("r1");
  }

  @Test
  void subscriptionChangesAreHonouredEvenWithAStaleNonce() {
    ads.publish(base());
    AdsHarness.Delta client = ads.delta("node-1");
    client.subscribe(ENDPOINT, "c1");
    DeltaDiscoveryResponse r = client.take();
    client.send(DeltaDiscoveryRequest.newBuilder().setTypeUrl(ENDPOINT.typeUrl()).setResponseNonce("stale")
        .addResourceNamesSubscribe("c2"));
    client.assertNothingSent(); // the response to c1 is still in flight
    client.ack(r);
    assertThat(names(client.take())).containsExactly("c2");
  }

  @Test
  void unsubscribingFromANameCoveredByTheWildcardResendsIt() {
    ads.publish(base());
    AdsHarness.Delta client = ads.delta("node-1");
    client.subscribe(CLUSTER, "*", "c1", "zz");
    DeltaDiscoveryResponse r = client.take();
    assertThat(names(r)).containsExactly("c1", "c2");
    assertThat(r.getRemovedResourcesList()).containsExactly("zz");
    client.ack(r);
    client.unsubscribe(CLUSTER, "c1");
    DeltaDiscoveryResponse again = client.take();
    assertThat(names(again)).as("still covered by the wildcard").containsExactly("c1");
    client.ack(again);
    client.unsubscribe(CLUSTER, "zz");
    // Not covered by the wildcard: the protocol requires saying so in removed_resources.
    DeltaDiscoveryResponse gone = client.take();
    assertThat(gone.getResourcesList()).isEmpty();
    assertThat(gone.getRemovedResourcesList()).containsExactly("zz");
  }

  @Test
  void plainUnsubscribeNeedsNoResponse() {
    ads.publish(base());
    AdsHarness.Delta client = ads.delta("node-1");
    client.subscribe(ENDPOINT, "c1", "c2");
    client.ack(client.take());
    client.unsubscribe(ENDPOINT, "c2");
    client.assertNothingSent();
    ads.publish(Snapshot.builder().add(CLUSTER, cluster("c1")).add(CLUSTER, cluster("c2"))
        .add(ENDPOINT, endpoints("c1", 8080)).add(ENDPOINT, endpoints("c2", 1))
        .add(LISTENER, listener("l1")).add(ROUTE, route("r1", "c1")));
    client.assertNothingSent();
  }

  @Test
  void nackIsRecordedAndNotResent() {
    ads.publish(base());
    AdsHarness.Delta client = ads.delta("node-1");
    client.subscribe(CLUSTER, "*");
    DeltaDiscoveryResponse r = client.take();
    client.nack(r, "c2: unsupported discovery type");
    client.assertNothingSent();
    ClientStatus.TypeStatus t = ads.ads.registry().clients(Duration.ofSeconds(5)).getFirst().types().getFirst();
    assertThat(t.nacks()).isEqualTo(1);
    assertThat(t.lastNackError()).isEqualTo("c2: unsupported discovery type");
    assertThat(t.lastNackVersion()).isEqualTo(r.getSystemVersionInfo());
  }

  @Test
  void aNackOfAnAlreadyAckedNonceIsCountedAndShown() {
    ads.publish(base());
    AdsHarness.Delta client = ads.delta("node-1");
    client.subscribe(CLUSTER, "*");
    DeltaDiscoveryResponse r = client.take();
    client.ack(r);
    client.nack(r, "c1: rejected after all");
    client.assertNothingSent();
    ClientStatus.TypeStatus t = ads.ads.registry().clients(Duration.ofSeconds(5)).getFirst().types().getFirst();
    assertThat(t.nacks()).isZero();
    assertThat(t.lateNacks()).isEqualTo(1);
    assertThat(t.lastLateNack().nonce()).isEqualTo(r.getNonce());
    assertThat(t.lastLateNack().error()).isEqualTo("c1: rejected after all");
    assertThat(t.lastLateNack().lastAcked()).isTrue();
    assertThat(ads.ads.metrics().lateNacks(CLUSTER)).isEqualTo(1);
  }
}
