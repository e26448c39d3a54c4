package dev.trellis.xds.client;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import dev.trellis.xds.resource.ResourceType;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.Resource;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** Incremental ADS for {@link AdsClient}: subscribe/unsubscribe deltas, per-resource versions, initial versions on reconnect. */
final class DeltaTransport extends Transport<DeltaDiscoveryRequest, DeltaDiscoveryResponse> {

  private final AggregatedDiscoveryServiceGrpc.AggregatedDiscoveryServiceStub stub;
  private boolean nodeSent;

  DeltaTransport(AdsClient client, AggregatedDiscoveryServiceGrpc.AggregatedDiscoveryServiceStub stub) {
    super(client);
    this.stub = stub;
  }

  @Override
  void open() {
    stub.deltaAggregatedResources(this);
  }

  private void send(DeltaDiscoveryRequest.Builder b) {
    if (!nodeSent) {
      b.setNode(client.node);
      nodeSent = true;
    }
    requests.onNext(b.build());
  }

  @Override
  void subscribeAll(AdsClient.TypeWatch tw) {
    DeltaDiscoveryRequest.Builder b = DeltaDiscoveryRequest.newBuilder().setTypeUrl(tw.type.typeUrl());
    if (tw.isWildcard()) {
      b.addResourceNamesSubscribe("*");
    }
    b.addAllResourceNamesSubscribe(tw.names());
    tw.cache.forEach((name, cached) -> b.putInitialResourceVersions(name, cached.version()));
    send(b);
  }

  @Override
  void subscriptionChanged(AdsClient.TypeWatch tw, String name, boolean added) {
    DeltaDiscoveryRequest.Builder b = DeltaDiscoveryRequest.newBuilder().setTypeUrl(tw.type.typeUrl());
    if (added) {
      b.addResourceNamesSubscribe(name);
    } else {
      b.addResourceNamesUnsubscribe(name);
    }
    send(b);
  }

  @Override
  void handle(DeltaDiscoveryResponse response) {
    ResourceType type = ResourceType.forUrl(response.getTypeUrl());
    AdsClient.TypeWatch tw = type == null ? null : client.types.get(type);
    DeltaDiscoveryRequest.Builder ack = DeltaDiscoveryRequest.newBuilder().setTypeUrl(response.getTypeUrl())
        .setResponseNonce(response.getNonce());
    if (tw == null) {
      send(ack.setErrorDetail(error("unexpected type " + response.getTypeUrl() + ": not subscribed")));
      return;
    }
    List<String> problems = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    for (Resource r : response.getResourcesList()) {
      if (!seen.add(r.getName())) {
        problems.add(type.shortName() + " resource '" + r.getName() + "' appears twice in one response");
        continue;
      }
      Message m;
      try {
        m = type.unpack(r.getResource());
      } catch (InvalidProtocolBufferException e) {
        problems.add(type.shortName() + " resource '" + r.getName() + "' cannot be decoded: " + e.getMessage());
        continue;
      }
      String problem = client.accept(tw, r.getName(), r.getVersion(), m);
      if (problem != null) {
        problems.add(problem);
      }
    }
    for (String name : response.getRemovedResourcesList()) {
      client.remove(tw, name);
    }
    // Answered only now that watchers have the response: whoever asks hasReceived() from another thread
    // must find the view delivered (a node proxy's readiness depends on it).
    client.answered(type);
    if (!problems.isEmpty()) {
      ack.setErrorDetail(error(String.join("; ", problems)));
    }
    send(ack);
  }
}
