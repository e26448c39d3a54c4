package dev.trellis.xds.server;

import dev.trellis.xds.cache.ConfigStore;
import dev.trellis.xds.cache.Snapshot;
import dev.trellis.xds.cache.SnapshotDiff;
import dev.trellis.xds.resource.ClientKind;
import dev.trellis.xds.resource.ResourceType;
import dev.trellis.xds.resource.XdsResource;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.time.Clock;
import java.time.Instant;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One ADS stream, protocol-variant independent. All state lives on the stream's serial executor:
 * requests and snapshot changes are queued there, never handled concurrently.
 *
 * <p>Pushing: at most one response is in flight per stream; the next is sent when the client
 * ACKs or NACKs it. Changes arriving meanwhile accumulate as dirty names and go out together, so a
 * slow client costs bounded memory and always gets the latest state (see {@link AdsLimits} for the
 * bounds on every collection a stream keeps). Types are visited in
 * {@link ResourceType} order (secrets, clusters, endpoints, listeners, routes, workloads); removals
 * of clusters, endpoints and secrets wait until nothing else is pending, so a client never holds a
 * route or listener pointing at something already removed (make before break).
 *
 * @param <Q> request message
 * @param <R> response message
 */
abstract class XdsStream<Q, R> implements StreamObserver<Q>, ConfigStore.SnapshotWatcher {

  private static final Logger log = LoggerFactory.getLogger(XdsStream.class);

  /** Longest NACK error_detail kept for debug output. */
  static final int MAX_NACK_ERROR = 512;

  final String streamId;
  final AdsServer server;
  private final Object connection;
  private final ServerCallStreamObserver<R> responses;
  private final Executor serial;
  private final Context context;
  final Clock clock;

  final Map<ResourceType, TypeState> types = new EnumMap<>(ResourceType.class);
  ClientScope scope;
  Node node;
  /** Which variants of resources this client is served; decided from its first request's Node. */
  ClientKind kind = ClientKind.PROXYLESS;
  Snapshot snapshot;
  private String inFlightNonce;
  private ResourceType inFlightType;
  private long nonces;
  private boolean closed;
  /** Whether this stream holds a slot of its client in {@link StreamAdmission}. */
  private boolean admitted;
  final Instant connectedAt;

  XdsStream(String streamId, AdsServer server, Object connection, ServerCallStreamObserver<R> responses,
      Executor serial, Clock clock) {
    this.streamId = streamId;
    this.server = server;
    this.connection = connection;
    this.responses = responses;
    this.serial = serial;
    this.clock = clock;
    this.context = Context.current();
    this.connectedAt = clock.instant();
    responses.setOnReadyHandler(() -> serial.execute(this::drain));
    responses.setOnCancelHandler(() -> serial.execute(() -> close(null)));
  }

  abstract String variant();

  /** Handles one request on the serial executor. */
  abstract void handle(Q request);

  /** Builds and sends the response for {@code work} of {@code state}'s type; updates {@code state.sent}. */
  abstract void send(TypeState state, Work work, String nonce, boolean finalPhase);

  // ---- gRPC callbacks (any thread)

  @Override
  public void onNext(Q request) {
    serial.execute(() -> {
      if (closed) {
        return;
      }
      try {
        handle(request);
        drain();
      } catch (AdsRefusal e) {
        refuse(e);
      } catch (StatusRuntimeException e) {
        // An authorizer's refusal.
        refuse(new AdsRefusal(AdsRefusal.Reason.of(e.getStatus().getCode()), e.getStatus().getDescription()));
      } catch (RuntimeException e) {
        // Input is untrusted: no stack trace at a level that a client could flood; the refusal line says where to look.
        log.debug("[{}] failed to handle a request", streamId, e);
        server.refused(AdsRefusal.Reason.INTERNAL, "[" + streamId + "] failed to handle a request of "
            + (scope == null ? clientHint() : scope.clientId()) + ": " + e + " (stack trace at debug level)");
        close(Status.INTERNAL.withDescription("internal error handling the request; see the control plane log"));
      }
    });
  }

  @Override
  public void onError(Throwable t) {
    serial.execute(() -> close(null));
  }

  @Override
  public void onCompleted() {
    serial.execute(() -> close(Status.OK));
  }

  @Override
  public void onSnapshot(Snapshot next, SnapshotDiff diff) {
    serial.execute(() -> {
      if (closed || scope == null) {
        return;
      }
      snapshot = next;
      for (TypeState state : types.values()) {
        state.markChanged(diff.changed(state.type, scope.node(), kind), view(state.type));
      }
      drain();
    });
  }

  // ---- shared request handling

  /** Closes the stream with the refusal's status, counted and logged (rate-limited) by the server. */
  private void refuse(AdsRefusal e) {
    server.refused(e.reason(), "[" + streamId + "] " + variant() + " stream of "
        + (scope == null ? clientHint() : scope.clientId() + " (" + scope.principal() + ")") + ": " + e.getMessage());
    close(e.toStatus());
  }

  private String clientHint() {
    return node == null || node.getId().isEmpty() ? "an unidentified client" : "node.id '" + node.getId() + "'";
  }

  /**
   * Authorizes the stream on its first request, takes its client's stream slot and starts watching the config
   * store.
   */
  void start(Node first) {
    if (scope != null) {
      return;
    }
    node = first;
    kind = ClientKind.of(first);
    ClientScope authorized;
    Context previous = context.attach();
    try {
      authorized = server.authorizer().authorize(first);
    } finally {
      context.detach(previous);
    }
    server.admission().enterClient(authorized);
    admitted = true;
    scope = authorized;
    snapshot = server.store().watch(this);
    server.registry().add(this);
    log.debug("[{}] {} stream from {} ({}, {})", streamId, variant(), scope.clientId(), scope.principal(),
        kind.label());
  }

  /**
   * The resource type of a request's type URL, or null for one Trellis does not serve: such
   * requests are ignored (the client sees nothing for them), counted and logged at most once per interval.
   */
  ResourceType supportedType(String typeUrl) {
    ResourceType type = ResourceType.forUrl(typeUrl);
    if (type == null) {
      server.refused(AdsRefusal.Reason.UNSUPPORTED_TYPE, "[" + streamId + "] " + scope.clientId()
          + " asked for unsupported type '" + typeUrl + "'; ignored");
    }
    return type;
  }

  TypeState state(ResourceType type) {
    return types.computeIfAbsent(type, TypeState::new);
  }

  void checkName(ResourceType type, String name) {
    if (name.length() > server.limits().maxNameLength()) {
      throw new AdsRefusal(AdsRefusal.Reason.NAME_TOO_LONG, type.shortName() + " resource name of " + name.length()
          + " characters exceeds the limit of " + server.limits().maxNameLength());
    }
  }

  /** The names-per-type limit of this stream's client. */
  int maxNames() {
    return server.limits().namesPerType(scope);
  }

  void checkCount(TypeState state) {
    if (state.names.size() > maxNames()) {
      throw new AdsRefusal(AdsRefusal.Reason.TOO_MANY_NAMES, "subscription to " + state.names.size() + " "
          + state.type.shortName() + " names exceeds the limit of " + maxNames()
          + (scope.isAnonymous() ? " for clients without a token" : "") + "; subscribe to '*' instead");
    }
  }

  /**
   * Counts {@code n} subscription changes of {@code state}'s type made while a response is unanswered: each may
   * leave a name to send or remove behind, so they are bounded like subscriptions.
   */
  void changed(TypeState state, int n) {
    state.unansweredChanges += n;
    if (state.unansweredChanges > maxNames()) {
      throw new AdsRefusal(AdsRefusal.Reason.TOO_MANY_UNANSWERED_CHANGES, state.unansweredChanges + " "
          + state.type.shortName() + " subscription changes while a response is unanswered exceed the limit of "
          + maxNames() + "; ACK or NACK each response (xDS protocol)");
    }
  }

  private void answeredAll() {
    for (TypeState t : types.values()) {
      t.unansweredChanges = 0;
    }
  }

  /**
   * Called by a variant when the client answered {@code nonce}; clears the in-flight response.
   *
   * @param version the version the client now runs (an ACK), or null to take the version sent
   * @param errorMessage the NACK's error_detail, or null for an ACK
   */
  void answered(TypeState state, String nonce, String version, String errorMessage) {
    if (!nonce.equals(inFlightNonce)) {
      if (errorMessage != null) {
        lateNack(state, nonce, errorMessage);
      }
      return;
    }
    inFlightNonce = null;
    inFlightType = null;
    answeredAll();
    if (errorMessage == null) {
      state.acks++;
      state.ackedNonce = nonce;
      state.ackedVersion = version != null ? version : state.lastSentVersion;
      state.ackedAt = clock.instant();
      server.metrics().acked(state.type);
    } else {
      state.nacks++;
      state.nackedVersion = state.lastSentVersion;
      state.nackError = errorMessage.length() > MAX_NACK_ERROR ? errorMessage.substring(0, MAX_NACK_ERROR) + "..."
          : errorMessage;
      state.nackedAt = clock.instant();
      server.metrics().nacked(state.type);
      // At most one NACK per response the server chose to send: not a flood. Clients without a token could still
      // fill the log with their own text, so theirs stay at debug level (and on /debug/clients).
      if (scope.isAnonymous()) {
        log.debug("[{}] {} NACKed {} version {}: {}", streamId, scope.clientId(), state.type.shortName(), version,
            state.nackError);
      } else {
        log.warn("[{}] {} NACKed {} version {}: {}", streamId, scope.clientId(), state.type.shortName(), version,
            state.nackError.replaceAll("[\\p{Cntrl}]", "?"));
      }
    }
  }

  /**
   * Records a NACK that answers no response in flight: it names a nonce the client already ACKed, or one a newer
   * response superseded. Nothing is resent for it (the client runs what it last accepted, or awaits the newer
   * response), but it is counted and shown, since it says the client rejected a configuration after all. Logged at
   * debug level only: unlike real NACKs, a client can send as many as it likes.
   */
  void lateNack(TypeState state, String nonce, String errorMessage) {
    String error = errorMessage.length() > MAX_NACK_ERROR ? errorMessage.substring(0, MAX_NACK_ERROR) + "..."
        : errorMessage;
    boolean lastAcked = nonce.equals(state.ackedNonce);
    state.lateNacks++;
    state.lastLateNack = new ClientStatus.LateNack(nonce, lastAcked, error, clock.instant());
    server.metrics().lateNacked(state.type);
    log.debug("[{}] {} NACKed {} nonce {} {}: {}", streamId, scope.clientId(), state.type.shortName(), nonce,
        lastAcked ? "which it had ACKed" : "which is not the latest", error);
  }

  boolean isInFlight(String nonce) {
    return nonce.equals(inFlightNonce);
  }

  // ---- pushing

  final void drain() {
    if (closed || scope == null || inFlightNonce != null || !responses.isReady()) {
      return;
    }
    for (ResourceType type : ResourceType.values()) {
      TypeState state = types.get(type);
      if (state != null && trySend(state, false)) {
        return;
      }
    }
    for (ResourceType type : ResourceType.DEFERRED_REMOVALS) {
      TypeState state = types.get(type);
      if (state != null && trySend(state, true)) {
        return;
      }
    }
    answeredAll(); // nothing pending: every change so far is settled
  }

  private boolean trySend(TypeState state, boolean finalPhase) {
    if (state.dirty.isEmpty() && !state.mustRespond) {
      return false;
    }
    Work work = evaluate(state, finalPhase);
    if (!needsResponse(state, work)) {
      return false;
    }
    String nonce = Long.toString(++nonces);
    inFlightNonce = nonce;
    inFlightType = state.type;
    state.lastNonce = nonce;
    state.lastSentVersion = versionInfo();
    state.responses++;
    state.mustRespond = false;
    send(state, work, nonce, finalPhase);
    server.metrics().pushed(state.type);
    return true;
  }

  /** Whether {@code work} calls for a response in this protocol variant (it may also apply silent drops). */
  abstract boolean needsResponse(TypeState state, Work work);

  /**
   * Classifies the dirty names of {@code state} against the current snapshot. Names that need no
   * message are settled here; the rest are left for {@link #send} to settle.
   */
  private Work evaluate(TypeState state, boolean finalPhase) {
    Map<String, XdsResource> view = view(state.type);
    Work work = new Work();
    boolean deferred = state.type.deferredRemoval();
    for (Iterator<String> it = state.dirty.iterator(); it.hasNext(); ) {
      String name = it.next();
      XdsResource current = view.get(name);
      XdsResource had = state.sent.get(name);
      boolean interested = state.interested(name);
      if (current != null && interested) {
        if (finalPhase) {
          continue;
        }
        if (state.forced.contains(name) || had == null || !had.version().equals(current.version())) {
          work.upserts.add(current);
        } else {
          it.remove();
        }
      } else if (current == null && had != null) {
        if (deferred && !finalPhase) {
          work.deferredPending = true;
        } else {
          work.removals.add(name);
        }
      } else if (current == null && state.names.contains(name) && !state.reportedMissing.contains(name)) {
        if (!finalPhase) {
          work.notFound.add(name);
        }
      } else if (current != null && had != null) {
        // Exists but the client lost interest: it drops it itself.
        state.sent.remove(name);
        state.forced.remove(name);
        it.remove();
      } else {
        state.forced.remove(name);
        it.remove();
      }
    }
    return work;
  }

  /** Records that {@code work} was sent: the client now has the upserts and not the removals. */
  void settle(TypeState state, Work work) {
    for (XdsResource r : work.upserts) {
      state.sent.put(r.name(), r);
      state.dirty.remove(r.name());
      state.forced.remove(r.name());
      state.reportedMissing.remove(r.name());
    }
    for (String name : work.removals) {
      state.sent.remove(name);
      state.dirty.remove(name);
      state.forced.remove(name);
    }
    for (String name : work.notFound) {
      state.reportedMissing.add(name);
      state.dirty.remove(name);
      state.forced.remove(name);
    }
  }

  void emit(R response) {
    responses.onNext(response);
  }

  /** The resources of {@code type} this client may see, with the variants for its kind in place. */
  Map<String, XdsResource> view(ResourceType type) {
    return snapshot.view(type, scope.node(), kind);
  }

  String versionInfo() {
    return Long.toString(snapshot.version());
  }

  /** Ends the stream: with {@code status} sent to the client, or silently if it is already gone (null). */
  void close(Status status) {
    if (closed) {
      return;
    }
    closed = true;
    server.store().unwatch(this);
    server.registry().remove(this);
    server.admission().leaveConnection(connection);
    if (admitted) {
      server.admission().leaveClient(scope);
    }
    // Free what the stream held at once, whatever still references this object.
    types.clear();
    snapshot = null;
    if (status != null) {
      try {
        if (status.isOk()) {
          responses.onCompleted();
        } else {
          log.debug("[{}] closing {} stream of {}: {}", streamId, variant(), scope == null ? "?" : scope.clientId(),
              status.getDescription());
          responses.onError(status.asRuntimeException());
        }
      } catch (RuntimeException e) {
        log.debug("[{}] stream already closed: {}", streamId, e.toString());
      }
    }
  }

  /**
   * Entries this stream keeps in all its per-type collections (names, held, dirty, forced, reported missing); on the
   * serial executor. What {@link AdsLimits} bounds; 0 once closed.
   */
  int retainedEntries() {
    int n = 0;
    for (TypeState t : types.values()) {
      n += t.retained();
    }
    return n;
  }

  boolean isClosed() {
    return closed;
  }

  /** A consistent copy of this stream's state for debug output; runs on the serial executor. */
  CompletableFuture<ClientStatus> status() {
    return CompletableFuture.supplyAsync(() -> ClientStatus.of(this, inFlightType), serial);
  }
}
