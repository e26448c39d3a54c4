package dev.trellis.xds.cache;

import static dev.trellis.xds.resource.ResourceType.CLUSTER;
import static dev.trellis.xds.resource.ResourceType.WORKLOAD;
import static dev.trellis.xds.testing.Resources.cluster;
import static dev.trellis.xds.testing.Resources.workload;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.mtls.testing.ManualClock;
import dev.trellis.mtls.testing.ManualScheduler;
import dev.trellis.xds.resource.ClientKind;
import dev.trellis.xds.resource.XdsResource;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class SnapshotTest {

  @Test
  void versionIsAStableHashOfTheContent() {
    XdsResource a = XdsResource.of(CLUSTER, cluster("c1"));
    XdsResource b = XdsResource.of(CLUSTER, cluster("c1"));
    XdsResource c = XdsResource.of(CLUSTER, cluster("c1", 3));
    assertThat(a.version()).isEqualTo(b.version()).hasSize(16);
    assertThat(c.version()).isNotEqualTo(a.version());
    assertThat(a.body().getTypeUrl()).isEqualTo(CLUSTER.typeUrl());
  }

  @Test
  void diffNamesAddedUpdatedAndRemovedPerTypeAndNode() {
    Snapshot before = Snapshot.builder().add(CLUSTER, cluster("a")).add(CLUSTER, cluster("b"))
        .addForNode(WORKLOAD, "n1", workload("ns/w1", "n1")).build();
    Snapshot after = Snapshot.builder().add(CLUSTER, cluster("a", 9)).add(CLUSTER, cluster("c"))
        .addForNode(WORKLOAD, "n1", workload("ns/w1", "n1")).addForNode(WORKLOAD, "n2", workload("ns/w2", "n2")).build();
    SnapshotDiff diff = after.diffFrom(before);
    assertThat(diff.changed(CLUSTER, "n1")).containsExactlyInAnyOrder("a", "b", "c");
    assertThat(diff.changed(WORKLOAD, "n1")).isEmpty();
    assertThat(diff.changed(WORKLOAD, "n2")).containsExactly("ns/w2");
    assertThat(diff.changed(WORKLOAD, null)).isEmpty();
    assertThat(after.view(WORKLOAD, "n2")).containsOnlyKeys("ns/w2");
    assertThat(after.view(WORKLOAD, null)).isEmpty();
    assertThat(after.all(WORKLOAD)).containsOnlyKeys("ns/w1", "ns/w2");
  }

  @Test
  void builderRejectsDuplicatesAndMixedScopes() {
    assertThatThrownBy(() -> Snapshot.builder().add(CLUSTER, cluster("a")).add(CLUSTER, cluster("a", 2)))
        .hasMessage("duplicate CDS resource name 'a'");
    assertThatThrownBy(() -> Snapshot.builder().add(CLUSTER, cluster("a")).addForNode(CLUSTER, "n", cluster("b")))
        .hasMessageContaining("CDS resources are global in this snapshot");
    assertThatThrownBy(() -> Snapshot.builder().add(CLUSTER, cluster("")))
        .hasMessageContaining("CDS resource has an empty name");
  }

  @Test
  void aVariantReplacesItsResourceForItsKindOnlyAndItsChangesAreInTheDiff() {
    XdsResource ring = XdsResource.of(CLUSTER, cluster("c1", 9));
    Snapshot plain = Snapshot.builder().add(CLUSTER, cluster("c1")).add(CLUSTER, cluster("c2")).build();
    Snapshot withVariant = Snapshot.builder().add(CLUSTER, cluster("c1")).add(CLUSTER, cluster("c2"))
        .addVariant(ClientKind.PROXYLESS, new Snapshot.Variant(ring, "why")).build();
    assertThat(withVariant.view(CLUSTER, null, ClientKind.PROXYLESS).get("c1")).isEqualTo(ring);
    assertThat(withVariant.view(CLUSTER, null, ClientKind.PROXYLESS)).containsOnlyKeys("c1", "c2");
    assertThat(withVariant.view(CLUSTER, null, ClientKind.ENVOY).get("c1")).isEqualTo(plain.view(CLUSTER, null).get("c1"));
    assertThat(withVariant.variant(CLUSTER, ClientKind.PROXYLESS, "c1").note()).isEqualTo("why");
    assertThat(withVariant.variant(CLUSTER, ClientKind.NODE_PROXY, "c1")).isNull();

    SnapshotDiff diff = withVariant.diffFrom(plain);
    assertThat(diff.isEmpty()).as("only a variant changed").isFalse();
    assertThat(diff.changed(CLUSTER, null, ClientKind.PROXYLESS)).containsExactly("c1");
    assertThat(diff.changed(CLUSTER, null, ClientKind.ENVOY)).isEmpty();
    assertThat(plain.diffFrom(withVariant).changed(CLUSTER, null, ClientKind.PROXYLESS)).containsExactly("c1");
  }

  @Test
  void aVariantNeedsAGlobalResourceOfItsName() {
    assertThatThrownBy(() -> Snapshot.builder().add(CLUSTER, cluster("c1"))
        .addVariant(ClientKind.PROXYLESS, new Snapshot.Variant(XdsResource.of(CLUSTER, cluster("c9")), "why")).build())
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'c9' has no global resource");
    XdsResource ring = XdsResource.of(CLUSTER, cluster("c1", 9));
    assertThatThrownBy(() -> Snapshot.builder().add(CLUSTER, cluster("c1"))
        .addVariant(ClientKind.PROXYLESS, new Snapshot.Variant(ring, "a"))
        .addVariant(ClientKind.PROXYLESS, new Snapshot.Variant(ring, "b")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("duplicate proxyless variant");
  }

  @Test
  void publishingAnIdenticalSnapshotNotifiesNobody() {
    ConfigStore store = new ConfigStore();
    List<Long> seen = new ArrayList<>();
    store.watch((s, d) -> seen.add(s.version()));
    store.publish(Snapshot.builder().add(CLUSTER, cluster("a")).build());
    store.publish(Snapshot.builder().add(CLUSTER, cluster("a")).build());
    store.publish(Snapshot.builder().add(CLUSTER, cluster("b")).build());
    assertThat(seen).containsExactly(1L, 2L);
    assertThat(store.current().version()).isEqualTo(2);
  }

  @Test
  void debouncerWaitsForQuietButNotBeyondTheMaximum() {
    ManualClock clock = new ManualClock(Instant.parse("2026-01-01T00:00:00Z"));
    ManualScheduler scheduler = new ManualScheduler(clock);
    AtomicInteger fired = new AtomicInteger();
    long origin = clock.instant().toEpochMilli();
    Debouncer d = new Debouncer(fired::incrementAndGet, scheduler, Duration.ofMillis(100), Duration.ofMillis(250),
        () -> (clock.instant().toEpochMilli() - origin) * 1_000_000L);
    d.changed();
    scheduler.advance(Duration.ofMillis(99));
    assertThat(fired).hasValue(0);
    d.changed(); // quiet period restarts
    scheduler.advance(Duration.ofMillis(99));
    assertThat(fired).hasValue(0);
    d.changed();
    scheduler.advance(Duration.ofMillis(52)); // 250 ms after the first change: the cap
    assertThat(fired).hasValue(1);
    scheduler.advance(Duration.ofSeconds(1));
    assertThat(fired).hasValue(1);
    assertThatThrownBy(() -> new Debouncer(() -> {}, scheduler, Duration.ofSeconds(2), Duration.ofSeconds(1), System::nanoTime))
        .hasMessageContaining("expected: 0 <= quiet <= max delay");
  }
}
