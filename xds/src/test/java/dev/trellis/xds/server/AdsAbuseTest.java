package dev.trellis.xds.server;

import static dev.trellis.xds.resource.ResourceType.CLUSTER;
import static dev.trellis.xds.resource.ResourceType.ENDPOINT;
import static dev.trellis.xds.testing.Resources.base;
import static dev.trellis.xds.testing.Resources.cluster;
import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.mtls.refusal.RefusalLog;
import dev.trellis.mtls.testing.ManualClock;
import dev.trellis.xds.cache.Snapshot;
import dev.trellis.xds.testing.AdsHarness;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.Resource;
import io.grpc.Status;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What a hostile xDS client can make the server hold (issue 16, item 4). The attack that was reproduced — one
 * delta stream that never ACKs, subscribing to and unsubscribing from fresh names — and its SotW variant; streams
 * per connection, per client and of anonymous clients; refusals counted, not logged one line each. Every count
 * of retained state is the server's own ({@link XdsStream#retainedEntries()}), read after each request (the
 * harness runs everything on the calling thread).
 */
class AdsAbuseTest {

  static final int LIMIT = 100;
  final ManualClock clock = new ManualClock(Instant.parse("2025-01-01T00:00:00Z"));
  final List<String> lines = new ArrayList<>();
  final RefusalLog refusals = new RefusalLog(lines::add, Duration.ofSeconds(10), clock);

  AdsHarness harness(AdsLimits limits) {
    return harness(ClientAuthorizer.trustNodeId(), limits);
  }

  AdsHarness harness(ClientAuthorizer authorizer, AdsLimits limits) {
    AdsHarness h = new AdsHarness(authorizer, limits, refusals);
    h.publish(base());
    return h;
  }

  static XdsStream<?, ?> stream(AdsHarness h, String clientId) {
    return h.ads.registry().open().stream().filter(s -> s.scope != null && s.scope.clientId().equals(clientId))
        .findFirst().orElseThrow();
  }

  /** A client that behaves: wildcard CDS, ACKs everything. */
  static AdsHarness.Delta wellBehaved(AdsHarness h) {
    AdsHarness.Delta good = h.delta("good");
    good.subscribe(CLUSTER, "*");
    good.ack(good.take());
    return good;
  }

  static void assertWellBehavedClientStillServed(AdsHarness h, AdsHarness.Delta good) {
    h.publish(Snapshot.builder().add(CLUSTER, cluster("c1", 9)).add(CLUSTER, cluster("c2")));
    DeltaDiscoveryResponse update = good.take();
    assertThat(update.getResourcesList()).extracting(Resource::getName).containsExactly("c1");
    assertThat(good.closed).isNull();
  }

  @Test
  void aDeltaStreamThatNeverAcksWhileChurningSubscriptionsIsClosedAndFreedAtTheLimit() throws Exception {
    try (AdsHarness h = harness(AdsLimits.defaults().withNames(LIMIT, 1024))) {
      AdsHarness.Delta good = wellBehaved(h);
      AdsHarness.Delta attacker = h.delta("attacker");
      attacker.subscribe(CLUSTER, "*"); // its response is never answered
      XdsStream<?, ?> held = stream(h, "attacker");
      int max = 0;
      int rounds = 0;
      for (int i = 0; i < 50_000 && attacker.closed == null; i++, rounds++) {
        attacker.subscribe(CLUSTER, "fresh-" + i);
        attacker.unsubscribe(CLUSTER, "fresh-" + i);
        max = Math.max(max, held.retainedEntries());
      }
      assertThat(attacker.closed).as("closed after %d rounds", rounds).isNotNull();
      assertThat(attacker.closed.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
      assertThat(attacker.closed.getDescription())
          .contains("CDS subscription changes while a response is unanswered exceed the limit of " + LIMIT);
      assertThat(rounds).isLessThanOrEqualTo(LIMIT / 2 + 1);
      assertThat(max).as("entries held at most").isLessThanOrEqualTo(3 * LIMIT + 2 * 2);
      assertThat(held.isClosed()).isTrue();
      assertThat(held.retainedEntries()).as("state freed").isZero();
      assertThat(h.ads.registry().size()).isEqualTo(1);
      assertThat(h.store.watcherCount()).isEqualTo(1);
      assertThat(refusals.count("xds", "too_many_unanswered_changes")).isEqualTo(1);
      assertWellBehavedClientStillServed(h, good);
    }
  }

  @Test
  void aDeltaStreamChurningSubscriptionsButAnsweringEachResponseKeepsNoMoreThanItsView() throws Exception {
    try (AdsHarness h = harness(AdsLimits.defaults().withNames(LIMIT, 1024))) {
      AdsHarness.Delta good = wellBehaved(h);
      AdsHarness.Delta churner = h.delta("churner");
      churner.subscribe(CLUSTER, "*");
      churner.ack(churner.take());
      XdsStream<?, ?> held = stream(h, "churner");
      int baseline = held.retainedEntries();
      int max = 0;
      for (int i = 0; i < 5_000; i++) {
        churner.subscribe(CLUSTER, "fresh-" + i);
        churner.ack(churner.take()); // "fresh-i does not exist"
        churner.unsubscribe(CLUSTER, "fresh-" + i);
        churner.ack(churner.take()); // "fresh-i is not covered by the wildcard either"
        max = Math.max(max, held.retainedEntries());
      }
      assertThat(churner.closed).as("a client that follows the protocol stays connected").isNull();
      assertThat(max).as("nothing accumulates: baseline %d", baseline).isLessThanOrEqualTo(baseline + 3);
      assertThat(held.retainedEntries()).isEqualTo(baseline);
      assertWellBehavedClientStillServed(h, good);
    }
  }

  @Test
  void aSotwStreamThatNeverAcksWhileReplacingItsNamesIsClosedAtTheLimit() throws Exception {
    try (AdsHarness h = harness(AdsLimits.defaults().withNames(LIMIT, 1024))) {
      AdsHarness.Delta good = wellBehaved(h);
      AdsHarness.Sotw attacker = h.sotw("attacker");
      attacker.subscribe(ENDPOINT, "c1"); // answered with c1's endpoints, never ACKed
      XdsStream<?, ?> held = stream(h, "attacker");
      int max = 0;
      int rounds = 0;
      for (int i = 0; i < 50_000 && attacker.closed == null; i++, rounds++) {
        attacker.subscribe(ENDPOINT, "c1", "fresh-" + i); // a new initial request each time (no nonce)
        max = Math.max(max, held.retainedEntries());
      }
      assertThat(attacker.closed.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
      assertThat(attacker.closed.getDescription()).contains("EDS subscription changes while a response is unanswered");
      assertThat(rounds).isLessThanOrEqualTo(LIMIT / 2 + 1);
      assertThat(max).isLessThanOrEqualTo(3 * LIMIT + 2 * 2);
      assertThat(held.retainedEntries()).isZero();
      assertWellBehavedClientStillServed(h, good);
    }
  }

  @Test
  void aSotwStreamAckingWithAnotherFreshNameEachTimeKeepsNoMoreThanItsView() throws Exception {
    try (AdsHarness h = harness(AdsLimits.defaults().withNames(LIMIT, 1024))) {
      AdsHarness.Sotw churner = h.sotw("churner");
      churner.subscribe(ENDPOINT, "c1");
      DiscoveryResponse first = churner.take();
      XdsStream<?, ?> held = stream(h, "churner");
      churner.ack(first, "c1");
      int baseline = held.retainedEntries();
      int max = 0;
      for (int i = 0; i < 5_000; i++) {
        churner.ack(first, "c1", "fresh-" + i); // same nonce: nothing is in flight, the subscription changes
        max = Math.max(max, held.retainedEntries());
      }
      assertThat(churner.closed).isNull();
      assertThat(max).as("baseline %d", baseline).isLessThanOrEqualTo(baseline + 3);
    }
  }

  @Test
  void streamsPerConnectionAreBoundedAndASlotFreesWhenAStreamEnds() throws Exception {
    try (AdsHarness h = harness(AdsLimits.defaults().withStreams(3, 100, 100))) {
      List<AdsHarness.Delta> open = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        AdsHarness.Delta d = h.delta("node-" + i);
        d.subscribe(CLUSTER, "*");
        open.add(d);
      }
      AdsHarness.Delta fourth = h.delta("node-3"); // the in-process transport is one connection
      fourth.subscribe(CLUSTER, "*");
      assertThat(fourth.closed.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
      assertThat(fourth.closed.getDescription()).contains("this connection already has 3 ADS streams open");
      open.getFirst().end();
      AdsHarness.Delta again = h.delta("node-3");
      again.subscribe(CLUSTER, "*");
      assertThat(again.closed).isNull();
      assertThat(again.take().getResourcesCount()).isEqualTo(2);
      assertThat(refusals.count("xds", "too_many_streams_per_connection")).isEqualTo(1);
    }
  }

  @Test
  void streamsPerAuthenticatedClientAreBounded() throws Exception {
    try (AdsHarness h = harness(AdsLimits.defaults().withStreams(100, 2, 100))) {
      AdsHarness.Delta a = h.delta("node-1");
      a.subscribe(CLUSTER, "*");
      AdsHarness.Delta b = h.delta("node-1");
      b.subscribe(CLUSTER, "*");
      AdsHarness.Delta c = h.delta("node-1");
      c.subscribe(CLUSTER, "*");
      assertThat(a.closed).isNull();
      assertThat(b.closed).isNull();
      assertThat(c.closed.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
      assertThat(c.closed.getDescription()).contains("node id node-1 (not verified) already has 2 ADS streams open");
      AdsHarness.Delta other = h.delta("node-2");
      other.subscribe(CLUSTER, "*");
      assertThat(other.closed).as("another client has its own streams").isNull();
      assertThat(h.ads.registry().size()).isEqualTo(3);
    }
  }

  @Test
  void anonymousClientsHaveFewerStreamsAndFewerNames() throws Exception {
    ClientAuthorizer anonymous = node -> ClientScope.anonymous(node.getId());
    try (AdsHarness h = harness(anonymous, AdsLimits.defaults().withStreams(100, 100, 2).withAnonymousNames(5))) {
      AdsHarness.Delta a = h.delta("grpc-1");
      a.subscribe(CLUSTER, "*");
      AdsHarness.Delta b = h.delta("grpc-2");
      b.subscribe(CLUSTER, "c1", "c2", "c3", "c4", "c5");
      assertThat(b.closed).isNull();
      AdsHarness.Delta c = h.delta("grpc-3");
      c.subscribe(CLUSTER, "*");
      assertThat(c.closed.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
      assertThat(c.closed.getDescription()).contains("2 anonymous ADS streams are open");
      assertThat(h.ads.anonymousStreams()).isEqualTo(2);

      b.subscribe(CLUSTER, "c6");
      assertThat(b.closed.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
      assertThat(b.closed.getDescription()).contains("6 CDS names exceeds the limit of 5 for clients without a token");
      assertThat(h.ads.anonymousStreams()).as("the closed stream's slot is free again").isEqualTo(1);
      AdsHarness.Delta d = h.delta("grpc-4");
      d.subscribe(CLUSTER, "*");
      assertThat(d.closed).isNull();
    }
  }

  @Test
  void anUnexpectedFailureTellsTheClientNothingInternalAndIsCountedWithoutAStackTrace() throws Exception {
    ClientAuthorizer broken = node -> {
      throw new IllegalStateException("secret internal detail");
    };
    try (AdsHarness h = harness(broken, AdsLimits.defaults())) {
      AdsHarness.Delta d = h.delta("node-1");
      d.subscribe(CLUSTER, "*");
      assertThat(d.closed.getCode()).isEqualTo(Status.Code.INTERNAL);
      assertThat(d.closed.getDescription()).doesNotContain("secret").contains("see the control plane log");
      assertThat(refusals.count("xds", "internal")).isEqualTo(1);
      assertThat(lines).singleElement().satisfies(l -> assertThat(l).contains("secret internal detail")
          .contains("stack trace at debug level").doesNotContain("\tat "));
    }
  }

  @Test
  void aThousandRefusedStreamsAreCountedButLoggedOnceWithoutStackTraces() throws Exception {
    try (AdsHarness h = harness(AdsLimits.defaults())) {
      for (int i = 0; i < 1000; i++) {
        AdsHarness.Delta nameless = h.delta(""); // no Node.id: refused on its first request
        nameless.subscribe(CLUSTER, "*");
        assertThat(nameless.closed.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
      }
      assertThat(refusals.count("xds", "invalid_node")).isEqualTo(1000);
      assertThat(lines).hasSize(1);
      assertThat(lines.getFirst()).startsWith("refused xds request (invalid_node): ").contains("node.id")
          .doesNotContain("\n").doesNotContain("Exception");
      assertThat(h.ads.registry().size()).isZero();
      assertThat(h.ads.admission().trackedKeys()).as("every slot given back").isZero();

      clock.advance(Duration.ofSeconds(10));
      AdsHarness.Delta one = h.delta("");
      one.subscribe(CLUSTER, "*");
      assertThat(lines).hasSize(2);
      assertThat(lines.get(1)).endsWith("[999 more refused for this reason since the last line]");
    }
  }
}
