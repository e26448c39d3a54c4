package dev.trellis.xds.client;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import dev.trellis.xds.resource.ResourceType;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.Resource;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** Incremental ADS for {@link AdsClient}: subscribe/unsubscribe deltas, per-resource versions, initial versions on reconnect. */
final class DeltaTransport implements Transport, ClientResponseObserver<DeltaDiscoveryRequest, DeltaDiscoveryResponse> {

  private final AdsClient client;
  private final AggregatedDiscoveryServiceGrpc.AggregatedDiscoveryServiceStub stub;
  private ClientCallStreamObserver<DeltaDiscoveryRequest> requests;
  private boolean nodeSent;

  DeltaTransport(AdsClient client, AggregatedDiscoveryServiceGrpc.AggregatedDiscoveryServiceStub stub) {
    this.client = client;
    this.stub = stub;
  }

  @Override
  public void beforeStart(ClientCallStreamObserver<DeltaDiscoveryRequest> requestStream) {
    this.requests = requestStream;
  }

  @Override
  public void open() {
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
  public void subscribeAll(AdsClient.TypeWatch tw) {
    DeltaDiscoveryRequest.Builder b = DeltaDiscoveryRequest.newBuilder().setTypeUrl(tw.type.typeUrl());
    if (tw.isWildcard()) {
      b.addResourceNamesSubscribe("*");
    }
    b.addAllResourceNamesSubscribe(tw.names());
    tw.cache.forEach((name, cached) -> b.putInitialResourceVersions(name, cached.version()));
    send(b);
  }

  @Override
  public void subscriptionChanged(AdsClient.TypeWatch tw, String name, boolean added) {
    DeltaDiscoveryRequest.Builder b = DeltaDiscoveryRequest.newBuilder().setTypeUrl(tw.type.typeUrl());
    if (added) {
      b.addResourceNamesSubscribe(name);
    } else {
      b.addResourceNamesUnsubscribe(name);
    }
    send(b);
  }

  @Override
  public void cancel() {
    requests.cancel("client closed", null);
  }

  @Override
  public void onNext(DeltaDiscoveryResponse response) {
    client.executor.execute(() -> handle(response));
  }

  @Override
  public void onError(Throwable t) {
    client.executor.execute(() -> client.failed(this, Status.fromThrowable(t)));
  }

  @Override
  public void onCompleted() {
    client.executor.execute(() -> client.failed(this, Status.UNAVAILABLE.withDescription("control plane ended the stream")));
  }

  private void handle(DeltaDiscoveryResponse response) {
    client.healthy(this);
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
    if (!problems.isEmpty()) {
      ack.setErrorDetail(error(String.join("; ", problems)));
    }
    send(ack);
  }

  static com.google.rpc.Status error(String message) {
    return com.google.rpc.Status.newBuilder().setCode(Status.Code.INVALID_ARGUMENT.value()).setMessage(message).build();
  }
}
