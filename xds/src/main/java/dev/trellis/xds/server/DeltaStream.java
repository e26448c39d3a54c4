package dev.trellis.xds.server;

import dev.trellis.xds.resource.ResourceType;
import dev.trellis.xds.resource.XdsResource;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.grpc.stub.ServerCallStreamObserver;
import java.time.Clock;
import java.util.Map;
import java.util.concurrent.Executor;

/**
 * Incremental (delta) ADS: requests add and remove subscriptions; responses carry only changed
 * resources and the names of removed ones. Subscription changes are honoured even with a stale
 * nonce; a subscribed name that does not exist is reported in {@code removed_resources} at once; a
 * reconnecting client's {@code initial_resource_versions} spare it the resources it already has.
 */
final class DeltaStream extends XdsStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse> {

  DeltaStream(String id, AdsServer server, Object connection,
      ServerCallStreamObserver<DeltaDiscoveryResponse> responses, Executor serial, Clock clock) {
    super(id, server, connection, responses, serial, clock);
  }

  @Override
  String variant() {
    return "delta";
  }

  @Override
  void handle(DeltaDiscoveryRequest request) {
    start(request.getNode());
    ResourceType type = supportedType(request.getTypeUrl());
    if (type == null) {
      return;
    }
    boolean first = !types.containsKey(type);
    TypeState state = state(type);
    String nonce = request.getResponseNonce();
    if (!nonce.isEmpty()) {
      // A NACK of a nonce not in flight is counted as late; any other answer to one is stale and changes nothing.
      answered(state, nonce, null, request.hasErrorDetail() ? request.getErrorDetail().getMessage() : null);
    }
    if (first) {
      int initial = request.getInitialResourceVersionsCount();
      if (initial > maxNames()) {
        throw new AdsRefusal(AdsRefusal.Reason.TOO_MANY_NAMES, "initial_resource_versions lists " + initial + " "
            + type.shortName() + " resources, over the limit of " + maxNames());
      }
      for (Map.Entry<String, String> e : request.getInitialResourceVersionsMap().entrySet()) {
        checkName(type, e.getKey());
        state.sent.put(e.getKey(), XdsResource.known(type, e.getKey(), e.getValue()));
        state.dirty.add(e.getKey());
      }
    }
    subscribe(state, request, first);
    if (first) {
      // Answer the first request of a type even when there is nothing to send, so the client knows its
      // view of that type is complete (a node with no workloads must not wait forever).
      state.mustRespond = true;
    }
  }

  /**
   * Applies the request's subscription changes. A name subscribed on the first request of its type together with a
   * version in {@code initial_resource_versions} (a reconnecting client) is sent only if that version differs, and
   * removed if the resource is gone; any other newly subscribed name is always sent.
   */
  private void subscribe(TypeState state, DeltaDiscoveryRequest request, boolean first) {
    Map<String, String> initial = first ? request.getInitialResourceVersionsMap() : Map.of();
    Map<String, XdsResource> view = view(state.type);
    if (first && request.getResourceNamesSubscribeCount() == 0 && request.getResourceNamesUnsubscribeCount() == 0) {
      enableWildcard(state, view); // legacy wildcard
      return;
    }
    for (String name : request.getResourceNamesSubscribeList()) {
      checkName(state.type, name);
      state.explicit = true;
      if (name.equals("*")) {
        enableWildcard(state, view);
      } else {
        state.names.add(name);
        state.dirty.add(name);
        if (!initial.containsKey(name)) {
          state.forced.add(name); // the client may have forgotten it: always resend
        }
        state.reportedMissing.remove(name);
      }
    }
    checkCount(state);
    changed(state, request.getResourceNamesSubscribeCount());
    for (String name : request.getResourceNamesUnsubscribeList()) {
      if (name.equals("*")) {
        state.wildcard = false;
        // The client drops what only the wildcard gave it.
        state.sent.keySet().removeIf(n -> !state.names.contains(n));
        state.dirty.removeIf(n -> !state.names.contains(n));
        state.forced.removeIf(n -> !state.names.contains(n));
      } else if (state.names.remove(name)) {
        changed(state, 1);
        state.forced.remove(name);
        state.reportedMissing.remove(name);
        if (state.wildcard) {
          // It may or may not be covered by the wildcard: tell the client which (xDS protocol, unsubscribing).
          state.dirty.add(name);
          state.forced.add(name);
          if (!view.containsKey(name)) {
            state.sent.putIfAbsent(name, XdsResource.known(state.type, name, ""));
          }
        } else {
          state.sent.remove(name);
          state.dirty.remove(name);
        }
      }
    }
  }

  private static void enableWildcard(TypeState state, Map<String, XdsResource> view) {
    if (!state.wildcard) {
      state.wildcard = true;
      state.dirty.addAll(view.keySet());
    }
  }

  @Override
  boolean needsResponse(TypeState state, Work work) {
    return !work.isEmpty() || state.mustRespond;
  }

  @Override
  void send(TypeState state, Work work, String nonce, boolean finalPhase) {
    DeltaDiscoveryResponse.Builder response = DeltaDiscoveryResponse.newBuilder()
        .setTypeUrl(state.type.typeUrl())
        .setSystemVersionInfo(versionInfo())
        .setNonce(nonce);
    for (XdsResource r : work.upserts) {
      response.addResources(r.deltaForm());
    }
    response.addAllRemovedResources(work.removals);
    response.addAllRemovedResources(work.notFound);
    settle(state, work);
    emit(response.build());
  }
}
