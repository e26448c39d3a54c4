package dev.trellis.xds.client;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.rpc.Status;
import dev.trellis.xds.resource.ResourceType;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * State-of-the-world ADS for {@link AdsClient}: each request carries the full subscription, the last
 * accepted version and the latest nonce; absence from a Listener/Cluster/Workload response means removal.
 */
final class SotwTransport extends Transport<DiscoveryRequest, DiscoveryResponse> {

  private final AggregatedDiscoveryServiceGrpc.AggregatedDiscoveryServiceStub stub;
  private boolean nodeSent;

  SotwTransport(AdsClient client, AggregatedDiscoveryServiceGrpc.AggregatedDiscoveryServiceStub stub) {
    super(client);
    this.stub = stub;
  }

  @Override
  void open() {
    stub.streamAggregatedResources(this);
    // Nonces belong to a stream: forget the previous stream's.
    client.types.values().forEach(tw -> tw.lastNonce = "");
  }

  private void request(AdsClient.TypeWatch tw, Status error) {
    DiscoveryRequest.Builder b = DiscoveryRequest.newBuilder().setTypeUrl(tw.type.typeUrl())
        .setVersionInfo(tw.sotwVersion).setResponseNonce(tw.lastNonce);
    if (tw.isWildcard()) {
      b.addResourceNames("*");
    }
    b.addAllResourceNames(tw.names());
    if (error != null) {
      b.setErrorDetail(error);
    }
    if (!nodeSent) {
      b.setNode(client.node);
      nodeSent = true;
    }
    requests.onNext(b.build());
  }

  @Override
  void subscribeAll(AdsClient.TypeWatch tw) {
    request(tw, null);
  }

  @Override
  void subscriptionChanged(AdsClient.TypeWatch tw, String name, boolean added) {
    request(tw, null);
  }

  @Override
  void handle(DiscoveryResponse response) {
    ResourceType type = ResourceType.forUrl(response.getTypeUrl());
    AdsClient.TypeWatch tw = type == null ? null : client.types.get(type);
    if (tw == null) {
      return; // not subscribed: nothing to ACK against
    }
    tw.lastNonce = response.getNonce();
    List<String> problems = new ArrayList<>();
    Set<String> present = new HashSet<>();
    for (Any any : response.getResourcesList()) {
      Message m;
      try {
        m = type.unpack(any);
      } catch (InvalidProtocolBufferException e) {
        problems.add(type.shortName() + " resource cannot be decoded: " + e.getMessage());
        continue;
      }
      String name = type.nameOf(m);
      if (!present.add(name)) {
        problems.add(type.shortName() + " resource '" + name + "' appears twice in one response");
        continue;
      }
      String problem = client.accept(tw, name, response.getVersionInfo(), m);
      if (problem != null) {
        problems.add(problem);
      }
    }
    if (type.fullStateInSotw()) {
      for (String name : new ArrayList<>(tw.cache.keySet())) {
        if (!present.contains(name)) {
          client.remove(tw, name);
        }
      }
    }
    // Answered only now that watchers have the response: whoever asks hasReceived() from another thread
    // must find the view delivered (a node proxy's readiness depends on it).
    client.answered(type);
    if (problems.isEmpty()) {
      tw.sotwVersion = response.getVersionInfo();
      request(tw, null);
    } else {
      request(tw, error(String.join("; ", problems)));
    }
  }
}
