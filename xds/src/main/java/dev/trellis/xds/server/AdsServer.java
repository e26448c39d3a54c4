package dev.trellis.xds.server;

import static java.util.Objects.requireNonNull;

import com.google.common.util.concurrent.MoreExecutors;
import dev.trellis.xds.cache.ConfigStore;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.time.Clock;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Trellis's Aggregated Discovery Service, state-of-the-world and incremental, over the resources of a
 * {@link ConfigStore}. Each stream runs on its own serial view of {@code executor}, so streams are
 * handled in parallel but each one sequentially. See {@link XdsStream} for how pushes are ordered.
 */
public final class AdsServer extends AggregatedDiscoveryServiceGrpc.AggregatedDiscoveryServiceImplBase {

  private final ConfigStore store;
  private final ClientAuthorizer authorizer;
  private final AdsLimits limits;
  private final Executor executor;
  private final Clock clock;
  private final ClientRegistry registry = new ClientRegistry();
  private final AdsMetrics metrics = new AdsMetrics();
  private final AtomicLong streamIds = new AtomicLong();

  public AdsServer(ConfigStore store, ClientAuthorizer authorizer, AdsLimits limits, Executor executor, Clock clock) {
    this.store = requireNonNull(store, "store");
    this.authorizer = requireNonNull(authorizer, "authorizer");
    this.limits = requireNonNull(limits, "limits");
    this.executor = requireNonNull(executor, "executor");
    this.clock = requireNonNull(clock, "clock");
  }

  @Override
  public StreamObserver<DiscoveryRequest> streamAggregatedResources(StreamObserver<DiscoveryResponse> responses) {
    return new SotwStream("ads-" + streamIds.incrementAndGet(), this,
        (ServerCallStreamObserver<DiscoveryResponse>) responses, MoreExecutors.newSequentialExecutor(executor), clock);
  }

  @Override
  public StreamObserver<DeltaDiscoveryRequest> deltaAggregatedResources(StreamObserver<DeltaDiscoveryResponse> responses) {
    return new DeltaStream("delta-" + streamIds.incrementAndGet(), this,
        (ServerCallStreamObserver<DeltaDiscoveryResponse>) responses, MoreExecutors.newSequentialExecutor(executor), clock);
  }

  public ClientRegistry registry() {
    return registry;
  }

  public AdsMetrics metrics() {
    return metrics;
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
}
