package dev.trellis.bench;

import dev.trellis.xds.resource.ResourceType;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.Resource;
import io.grpc.CallCredentials;
import io.grpc.Channel;
import io.grpc.stub.StreamObserver;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;

/**
 * A simulated node proxy for the load run: one ADS stream (delta or SotW) subscribed to every type
 * with a wildcard but listeners (the name it is given: a node proxy asks for {@code trellis-outbound} only,
 * {@code *} takes every listener, proxyless gRPC's API listeners too), ACKing each response at once. It records when it holds the expected number of
 * resources of each type, and when it ACKs an update of the cluster under watch.
 */
final class LoadClient {

  static final List<ResourceType> TYPES = List.of(ResourceType.CLUSTER, ResourceType.ENDPOINT, ResourceType.LISTENER,
      ResourceType.ROUTE, ResourceType.WORKLOAD);

  final boolean delta;
  private final Map<ResourceType, Integer> expected;
  private final Map<ResourceType, Set<String>> deltaNames = new EnumMap<>(ResourceType.class);
  private final Map<ResourceType, Integer> sotwCounts = new EnumMap<>(ResourceType.class);
  final CountDownLatch synced = new CountDownLatch(1);
  volatile long syncedAtNanos;
  volatile String failure;
  /** Bytes of the responses (protobuf encoding, without gRPC framing) of each type received until synced. */
  final Map<ResourceType, Long> syncBytes = new EnumMap<>(ResourceType.class);

  private volatile String watched;
  private volatile long watchAckNanos;
  private volatile long watchAckEpochMillis;
  private volatile CountDownLatch watchDone;

  private StreamObserver<DiscoveryRequest> sotw;
  private StreamObserver<DeltaDiscoveryRequest> deltaStream;
  private final Node node;
  private final String listeners;

  LoadClient(Channel channel, CallCredentials credentials, String nodeId, boolean delta, String listeners,
      Map<ResourceType, Integer> expected) {
    this.delta = delta;
    this.listeners = listeners;
    this.expected = expected;
    this.node = Node.newBuilder().setId(nodeId).build();
    var stub = AggregatedDiscoveryServiceGrpc.newStub(channel).withCallCredentials(credentials);
    if (delta) {
      deltaStream = stub.deltaAggregatedResources(new StreamObserver<>() {
        @Override
        public void onNext(DeltaDiscoveryResponse r) {
          onDelta(r);
        }

        @Override
        public void onError(Throwable t) {
          failure = t.toString();
          synced.countDown();
        }

        @Override
        public void onCompleted() {}
      });
    } else {
      sotw = stub.streamAggregatedResources(new StreamObserver<>() {
        @Override
        public void onNext(DiscoveryResponse r) {
          onSotw(r);
        }

        @Override
        public void onError(Throwable t) {
          failure = t.toString();
          synced.countDown();
        }

        @Override
        public void onCompleted() {}
      });
    }
  }

  synchronized void start() {
    boolean first = true;
    for (ResourceType t : TYPES) {
      if (delta) {
        DeltaDiscoveryRequest.Builder b = DeltaDiscoveryRequest.newBuilder().setTypeUrl(t.typeUrl())
            .addResourceNamesSubscribe(names(t));
        if (first) {
          b.setNode(node);
        }
        deltaStream.onNext(b.build());
      } else {
        DiscoveryRequest.Builder b = DiscoveryRequest.newBuilder().setTypeUrl(t.typeUrl()).addResourceNames(names(t));
        if (first) {
          b.setNode(node);
        }
        sotw.onNext(b.build());
      }
      first = false;
    }
  }

  private String names(ResourceType t) {
    return t == ResourceType.LISTENER ? listeners : "*";
  }

  /** Starts watching for the next update of {@code cluster}'s endpoints. */
  void watch(String cluster, CountDownLatch done) {
    watchAckNanos = 0;
    watchDone = done;
    watched = cluster;
  }

  long watchAckNanos() {
    return watchAckNanos;
  }

  /** Wall-clock time of the ACK, comparable with the control plane's publish time (same machine). */
  long watchAckEpochMillis() {
    return watchAckEpochMillis;
  }

  private synchronized void onDelta(DeltaDiscoveryResponse r) {
    ResourceType t = ResourceType.forUrl(r.getTypeUrl());
    countBytes(t, r.getSerializedSize());
    Set<String> names = deltaNames.computeIfAbsent(t, x -> new HashSet<>());
    boolean hit = false;
    for (Resource res : r.getResourcesList()) {
      names.add(res.getName());
      hit |= t == ResourceType.ENDPOINT && res.getName().equals(watched);
    }
    r.getRemovedResourcesList().forEach(names::remove);
    deltaStream.onNext(DeltaDiscoveryRequest.newBuilder().setTypeUrl(r.getTypeUrl()).setResponseNonce(r.getNonce()).build());
    afterAck(hit);
    checkSynced(t, names.size());
  }

  private synchronized void onSotw(DiscoveryResponse r) {
    ResourceType t = ResourceType.forUrl(r.getTypeUrl());
    countBytes(t, r.getSerializedSize());
    boolean hit = false;
    if (t.fullStateInSotw() || !sotwCounts.containsKey(t)) {
      sotwCounts.put(t, r.getResourcesCount());
    }
    if (t == ResourceType.ENDPOINT && watched != null && r.getResourcesCount() <= 4) {
      for (var any : r.getResourcesList()) {
        try {
          hit |= ClusterLoadAssignment.parseFrom(any.getValue()).getClusterName().equals(watched);
        } catch (Exception e) {
          failure = e.toString();
        }
      }
    }
    sotw.onNext(DiscoveryRequest.newBuilder().setTypeUrl(r.getTypeUrl()).setVersionInfo(r.getVersionInfo())
        .setResponseNonce(r.getNonce()).addResourceNames(names(t)).build());
    afterAck(hit);
    checkSynced(t, sotwCounts.get(t));
  }

  private void countBytes(ResourceType t, int bytes) {
    if (synced.getCount() != 0) {
      syncBytes.merge(t, (long) bytes, Long::sum);
    }
  }

  private void afterAck(boolean hit) {
    if (hit && watchAckNanos == 0) {
      watchAckNanos = System.nanoTime();
      watchAckEpochMillis = System.currentTimeMillis();
      watched = null;
      watchDone.countDown();
    }
  }

  private final Set<ResourceType> complete = new HashSet<>();

  private void checkSynced(ResourceType t, int count) {
    if (synced.getCount() == 0) {
      return;
    }
    if (count >= expected.get(t)) {
      complete.add(t);
    }
    if (complete.size() == TYPES.size()) {
      syncedAtNanos = System.nanoTime();
      synced.countDown();
    }
  }

  synchronized void close() {
    try {
      if (delta) {
        deltaStream.onCompleted();
      } else {
        sotw.onCompleted();
      }
    } catch (RuntimeException e) {
      // already closed
    }
  }
}
