package dev.trellis.xds.server;

import dev.trellis.xds.resource.ResourceType;
import dev.trellis.xds.resource.XdsResource;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.grpc.stub.ServerCallStreamObserver;
import java.time.Clock;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executor;

/**
 * State-of-the-world ADS: every request carries the full subscription of its type; a request whose
 * nonce is not the latest one sent for its type is stale and ignored (a NACK among them is counted as late). The first
 * request of a type on a stream is answered whatever nonce it carries (one from an earlier stream), as Envoy's and
 * go-control-plane's servers do. Listener, Cluster and Workload
 * responses carry everything the client is interested in; other types carry only what changed.
 */
final class SotwStream extends XdsStream<DiscoveryRequest, DiscoveryResponse> {

  SotwStream(String id, AdsServer server, Object connection, ServerCallStreamObserver<DiscoveryResponse> responses,
      Executor serial, Clock clock) {
    super(id, server, connection, responses, serial, clock);
  }

  @Override
  String variant() {
    return "sotw";
  }

  @Override
  void handle(DiscoveryRequest request) {
    start(request.getNode());
    ResourceType type = supportedType(request.getTypeUrl());
    if (type == null) {
      return;
    }
    TypeState state = state(type);
    String nonce = request.getResponseNonce();
    String error = request.hasErrorDetail() ? request.getErrorDetail().getMessage() : null;
    // Nothing of this type was sent on this stream yet: whatever nonce the request carries comes from an earlier
    // stream (a client reconnecting, e.g. to a restarted server) and cannot be stale here; the request is answered.
    boolean initial = nonce.isEmpty() || state.lastNonce == null;
    if (!initial) {
      if (!nonce.equals(state.lastNonce)) {
        // Stale: a newer response is on its way and the client will answer it.
        if (error != null) {
          lateNack(state, nonce, error);
        }
        return;
      }
      answered(state, nonce, request.getVersionInfo(), error);
    }
    subscribe(state, request, initial);
  }

  private void subscribe(TypeState state, DiscoveryRequest request, boolean initial) {
    if (request.getResourceNamesCount() > maxNames() + 1) { // + 1: "*" beside the names
      throw new AdsRefusal(AdsRefusal.Reason.TOO_MANY_NAMES, "subscription to " + request.getResourceNamesCount()
          + " " + state.type.shortName() + " names exceeds the limit of " + maxNames() + "; subscribe to '*' instead");
    }
    Set<String> requested = new HashSet<>(request.getResourceNamesCount());
    for (String name : request.getResourceNamesList()) {
      checkName(state.type, name);
      requested.add(name);
    }
    boolean wildcard;
    if (requested.isEmpty() && !state.explicit) {
      wildcard = true; // legacy wildcard: never subscribed to anything explicitly
    } else {
      state.explicit = true;
      wildcard = requested.remove("*");
    }
    // The effective interest changes when the wildcard toggles, or the names change without a wildcard.
    boolean changed = wildcard != state.wildcard || (!wildcard && !requested.equals(state.names));
    int changes = 0;
    if (!requested.equals(state.names)) {
      int added = 0;
      for (String name : requested) {
        if (!state.names.contains(name)) {
          added++;
        }
      }
      changes = added + state.names.size() - (requested.size() - added);
    }
    Map<String, XdsResource> view = view(state.type);
    if (wildcard && !state.wildcard) {
      state.dirty.addAll(view.keySet());
      state.forced.addAll(view.keySet());
    }
    for (String name : requested) {
      if (!state.names.contains(name) && !state.wildcard) {
        state.dirty.add(name);
        state.forced.add(name); // newly requested: resend even if sent before
      }
    }
    for (String name : state.names) {
      if (!requested.contains(name) && !wildcard) {
        state.sent.remove(name);
        state.dirty.remove(name);
        state.forced.remove(name);
      }
    }
    if (state.wildcard && !wildcard) {
      state.sent.keySet().removeIf(n -> !requested.contains(n));
      state.dirty.removeIf(n -> !requested.contains(n));
      state.forced.removeIf(n -> !requested.contains(n));
    }
    state.wildcard = wildcard;
    state.names.clear();
    state.names.addAll(requested);
    checkCount(state);
    changed(state, changes);
    if (state.type.fullStateInSotw() && (changed || initial)) {
      state.mustRespond = true;
    }
  }

  @Override
  boolean needsResponse(TypeState state, Work work) {
    // SotW has no "does not exist" message: a full-state response simply lacks the name.
    work.notFound.forEach(state.dirty::remove);
    work.notFound.clear();
    if (state.type.fullStateInSotw()) {
      return state.mustRespond || !work.upserts.isEmpty() || !work.removals.isEmpty();
    }
    // Other types cannot express removals: drop them from the books silently.
    if (!work.removals.isEmpty()) {
      for (String name : work.removals) {
        state.sent.remove(name);
        state.dirty.remove(name);
      }
      work.removals.clear();
    }
    return !work.upserts.isEmpty();
  }

  @Override
  void send(TypeState state, Work work, String nonce, boolean finalPhase) {
    DiscoveryResponse.Builder response = DiscoveryResponse.newBuilder()
        .setTypeUrl(state.type.typeUrl())
        .setVersionInfo(versionInfo())
        .setNonce(nonce);
    settle(state, work);
    if (state.type.fullStateInSotw()) {
      // Everything the client is interested in, plus resources whose removal is deferred to phase B.
      Map<String, XdsResource> view = view(state.type);
      Map<String, XdsResource> included = new HashMap<>();
      if (state.wildcard) {
        included.putAll(view);
      } else {
        for (String name : state.names) {
          XdsResource r = view.get(name);
          if (r != null) {
            included.put(name, r);
          }
        }
      }
      if (!finalPhase) {
        for (Map.Entry<String, XdsResource> e : state.sent.entrySet()) {
          if (!included.containsKey(e.getKey()) && e.getValue().body() != null && state.type.deferredRemoval()) {
            included.put(e.getKey(), e.getValue());
          }
        }
      }
      for (XdsResource r : included.values()) {
        response.addResources(r.body());
      }
      // The client now has exactly what was included; only resources kept for phase B stay dirty.
      state.sent = included;
      state.dirty.clear();
      state.forced.clear();
      for (String name : included.keySet()) {
        if (!view.containsKey(name)) {
          state.dirty.add(name);
        }
      }
    } else {
      for (XdsResource r : work.upserts) {
        response.addResources(r.body());
      }
    }
    emit(response.build());
  }
}
