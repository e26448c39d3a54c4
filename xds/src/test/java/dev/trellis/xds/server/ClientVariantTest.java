package dev.trellis.xds.server;

import static dev.trellis.xds.resource.ResourceType.CLUSTER;
import static dev.trellis.xds.testing.Resources.base;
import static dev.trellis.xds.testing.Resources.cluster;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import dev.trellis.xds.cache.Snapshot;
import dev.trellis.xds.resource.ClientKind;
import dev.trellis.xds.resource.ResourceType;
import dev.trellis.xds.resource.XdsResource;
import dev.trellis.xds.testing.AdsHarness;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** A resource's variant for one kind of client reaches exactly the clients of that kind, and shows on their status. */
class ClientVariantTest {

  static final String NOTE = "RING_HASH instead of MAGLEV: proxyless gRPC rejects MAGLEV";

  private final AdsHarness ads = new AdsHarness();

  @AfterEach
  void close() throws Exception {
    ads.close();
  }

  static Node grpcJava(String id) {
    return Node.newBuilder().setId(id).setUserAgentName("gRPC Java").build();
  }

  static Node nodeProxy(String id) {
    return Node.newBuilder().setId(id).setMetadata(Struct.newBuilder().putFields(ClientKind.ROLE_KEY,
        Value.newBuilder().setStringValue(ClientKind.NODE_PROXY_ROLE).build()))
        .addClientFeatures(ClientKind.COMPACT_ENDPOINTS).build();
  }

  static Node envoy(String id) {
    return Node.newBuilder().setId(id).setUserAgentName("envoy").build();
  }

  /** {@code base()} with c1 on {@code lb}, and c1 on ring hash for proxyless clients. */
  static Snapshot.Builder withMaglev(Cluster.LbPolicy lb, int connectTimeout) {
    Cluster c1 = cluster("c1", connectTimeout).toBuilder().setLbPolicy(lb).build();
    Snapshot.Builder b = Snapshot.builder().add(CLUSTER, c1).add(CLUSTER, cluster("c2"));
    Snapshot full = base().build();
    for (ResourceType type : ResourceType.values()) {
      if (type != CLUSTER) {
        full.all(type).values().forEach(b::add);
      }
    }
    if (lb == Cluster.LbPolicy.MAGLEV) {
      b.addVariant(ClientKind.PROXYLESS, new Snapshot.Variant(XdsResource.of(CLUSTER,
          c1.toBuilder().setLbPolicy(Cluster.LbPolicy.RING_HASH).build()), NOTE));
    }
    return b;
  }

  static Map<String, Cluster.LbPolicy> policies(List<Any> resources) {
    return resources.stream().map(ClientVariantTest::unpack)
        .collect(Collectors.toMap(Cluster::getName, Cluster::getLbPolicy));
  }

  static Cluster unpack(Any any) {
    try {
      return any.unpack(Cluster.class);
    } catch (InvalidProtocolBufferException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void proxylessClientsGetTheVariantEnvoyAndNodeProxiesTheGlobalResource() {
    ads.publish(withMaglev(Cluster.LbPolicy.MAGLEV, 1));
    AdsHarness.Sotw grpc = ads.sotw(grpcJava("grpc-client"));
    AdsHarness.Sotw proxy = ads.sotw(nodeProxy("node-1"));
    AdsHarness.Delta envoy = ads.delta(envoy("envoy-1"));
    grpc.subscribe(CLUSTER);
    proxy.subscribe(CLUSTER);
    envoy.subscribe(CLUSTER, "*");
    DiscoveryResponse toGrpc = grpc.take();
    DiscoveryResponse toProxy = proxy.take();
    DeltaDiscoveryResponse toEnvoy = envoy.take();
    assertThat(policies(toGrpc.getResourcesList())).containsEntry("c1", Cluster.LbPolicy.RING_HASH);
    assertThat(policies(toProxy.getResourcesList())).containsEntry("c1", Cluster.LbPolicy.MAGLEV);
    assertThat(policies(toEnvoy.getResourcesList().stream().map(r -> r.getResource()).toList()))
        .containsEntry("c1", Cluster.LbPolicy.MAGLEV);
    grpc.ack(toGrpc);
    proxy.ack(toProxy);
    envoy.ack(toEnvoy);

    List<ClientStatus> clients = ads.ads.registry().clients(Duration.ofSeconds(5));
    assertThat(clients).filteredOn(c -> c.clientId().equals("grpc-client")).singleElement().satisfies(c -> {
      assertThat(c.kind()).isEqualTo("proxyless");
      assertThat(c.notes()).containsExactly("CDS c1: " + NOTE);
    });
    assertThat(clients).filteredOn(c -> !c.clientId().equals("grpc-client")).hasSize(2)
        .allSatisfy(c -> assertThat(c.notes()).isEmpty())
        .extracting(ClientStatus::kind).containsExactlyInAnyOrder("node-proxy", "envoy");

    // A change that leaves the variant as it was reaches only the clients of the global resource.
    ads.publish(withMaglev(Cluster.LbPolicy.MAGLEV, 1).add(CLUSTER, cluster("c0")));
    DiscoveryResponse grpcUpdate = grpc.take();
    DiscoveryResponse proxyUpdate = proxy.take();
    assertThat(policies(grpcUpdate.getResourcesList())).containsKey("c0");
    assertThat(policies(proxyUpdate.getResourcesList())).containsKey("c0");
    grpc.ack(grpcUpdate);
    proxy.ack(proxyUpdate);
    ads.publish(withMaglev(Cluster.LbPolicy.MAGLEV, 2).add(CLUSTER, cluster("c0")));
    assertThat(policies(proxy.take().getResourcesList())).containsEntry("c1", Cluster.LbPolicy.MAGLEV);
    assertThat(policies(grpc.take().getResourcesList())).containsEntry("c1", Cluster.LbPolicy.RING_HASH);

    // The variant goes away (the service moved to ring hash for everyone): the proxyless client is told.
    AdsHarness.Delta grpcDelta = ads.delta(grpcJava("grpc-delta"));
    grpcDelta.subscribe(CLUSTER, "c1");
    DeltaDiscoveryResponse held = grpcDelta.take();
    grpcDelta.ack(held);
    ads.publish(withMaglev(Cluster.LbPolicy.RING_HASH, 2));
    grpcDelta.assertNothingSent(); // what everyone gets now is byte for byte what it holds
    assertThat(ads.ads.registry().clients(Duration.ofSeconds(5))).filteredOn(c -> c.clientId().equals("grpc-delta"))
        .singleElement().satisfies(c -> assertThat(c.notes()).isEmpty());
    ads.publish(withMaglev(Cluster.LbPolicy.ROUND_ROBIN, 2));
    DeltaDiscoveryResponse update = grpcDelta.take();
    assertThat(policies(update.getResourcesList().stream().map(r -> r.getResource()).toList()))
        .containsExactly(Map.entry("c1", Cluster.LbPolicy.ROUND_ROBIN));
  }
}
