package dev.trellis.xds.server;

import static java.util.Objects.requireNonNull;

import com.google.common.util.concurrent.MoreExecutors;
import dev.trellis.mtls.refusal.RefusalLog;
import dev.trellis.xds.cache.ConfigStore;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.grpc.BindableService;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.net.SocketAddress;
import java.time.Clock;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Trellis's Aggregated Discovery Service, state-of-the-world and incremental, over the resources of a
 * {@link ConfigStore}. Each stream runs on its own serial view of {@code executor}, so streams are
 * handled in parallel but each one sequentially. See {@link XdsStream} for how pushes are ordered and
 * {@link AdsLimits} for what a client may make the server hold. Refused streams are counted and logged
 * through a {@link RefusalLog} (service {@value #SERVICE}).
 */
public final class AdsServer implements BindableService {

  /** The service label of this server's refusals. */
  public static final String SERVICE = "xds";
  private static final Logger log = LoggerFactory.getLogger(AdsServer.class);
  /** The connection a stream arrived on (its peer's address), put in the Context by {@link #bindService()}. */
  private static final Context.Key<Object> CONNECTION = Context.key("trellis.xds.connection");
  private static final Object UNKNOWN_CONNECTION = new Object();

  private final ConfigStore store;
  private final ClientAuthorizer authorizer;
  private final AdsLimits limits;
  private final Executor executor;
  private final Clock clock;
  private final RefusalLog refusals;
  private final StreamAdmission admission;
  private final ClientRegistry registry = new ClientRegistry();
  private final AdsMetrics metrics = new AdsMetrics();
  private final AtomicLong streamIds = new AtomicLong();

  public AdsServer(ConfigStore store, ClientAuthorizer authorizer, AdsLimits limits, Executor executor, Clock clock) {
    this(store, authorizer, limits, executor, clock, RefusalLog.to(log, clock));
  }

  public AdsServer(ConfigStore store, ClientAuthorizer authorizer, AdsLimits limits, Executor executor, Clock clock,
      RefusalLog refusals) {
    this.store = requireNonNull(store, "store");
    this.authorizer = requireNonNull(authorizer, "authorizer");
    this.limits = requireNonNull(limits, "limits");
    this.executor = requireNonNull(executor, "executor");
    this.clock = requireNonNull(clock, "clock");
    this.refusals = requireNonNull(refusals, "refusals");
    this.admission = new StreamAdmission(limits);
  }

  /** The service, with the interceptor that tells each stream which connection it is on (for the per-connection limit). */
  @Override
  public ServerServiceDefinition bindService() {
    return ServerInterceptors.intercept(new Service().bindService(), new ServerInterceptor() {
      @Override
      public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
          ServerCallHandler<Q, R> next) {
        SocketAddress peer = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
        return Contexts.interceptCall(Context.current().withValue(CONNECTION, peer == null ? UNKNOWN_CONNECTION : peer),
            call, headers, next);
      }
    });
  }

  private final class Service extends AggregatedDiscoveryServiceGrpc.AggregatedDiscoveryServiceImplBase {
    @Override
    public StreamObserver<DiscoveryRequest> streamAggregatedResources(StreamObserver<DiscoveryResponse> responses) {
      return AdsServer.this.streamAggregatedResources(responses);
    }

    @Override
    public StreamObserver<DeltaDiscoveryRequest> deltaAggregatedResources(
        StreamObserver<DeltaDiscoveryResponse> responses) {
      return AdsServer.this.deltaAggregatedResources(responses);
    }
  }

  /** A state-of-the-world stream. */
  public StreamObserver<DiscoveryRequest> streamAggregatedResources(StreamObserver<DiscoveryResponse> responses) {
    Object connection = admit(responses);
    if (connection == null) {
      return new Refused<>();
    }
    return new SotwStream("ads-" + streamIds.incrementAndGet(), this, connection,
        (ServerCallStreamObserver<DiscoveryResponse>) responses, MoreExecutors.newSequentialExecutor(executor), clock);
  }

  /** An incremental stream. */
  public StreamObserver<DeltaDiscoveryRequest> deltaAggregatedResources(StreamObserver<DeltaDiscoveryResponse> responses) {
    Object connection = admit(responses);
    if (connection == null) {
      return new Refused<>();
    }
    return new DeltaStream("delta-" + streamIds.incrementAndGet(), this, connection,
        (ServerCallStreamObserver<DeltaDiscoveryResponse>) responses, MoreExecutors.newSequentialExecutor(executor), clock);
  }

  /** Takes a per-connection slot for a new stream; null (and the stream closed) when the connection has none left. */
  private Object admit(StreamObserver<?> responses) {
    Object connection = CONNECTION.get();
    if (connection == null) {
      connection = UNKNOWN_CONNECTION;
    }
    try {
      admission.enterConnection(connection);
      return connection;
    } catch (AdsRefusal e) {
      refused(e.reason(), e.getMessage());
      responses.onError(e.toStatus().asRuntimeException());
      return null;
    }
  }

  /** What a refused stream's requests go to: nothing. */
  private static final class Refused<Q> implements StreamObserver<Q> {
    @Override
    public void onNext(Q value) {}

    @Override
    public void onError(Throwable t) {}

    @Override
    public void onCompleted() {}
  }

  public ClientRegistry registry() {
    return registry;
  }

  public AdsMetrics metrics() {
    return metrics;
  }

  /** Open anonymous streams (a gauge). */
  public int anonymousStreams() {
    return admission.anonymousStreams();
  }

  void refused(AdsRefusal.Reason reason, String detail) {
    refusals.refuse(SERVICE, reason.label(), detail);
  }

  ConfigStore store() {
    return store;
  }

  ClientAuthorizer authorizer() {
    return authorizer;
  }

  AdsLimits limits() {
    return limits;
  }

  StreamAdmission admission() {
    return admission;
  }
}
