package dev.trellis.xds.testing;

import com.google.common.util.concurrent.MoreExecutors;
import dev.trellis.mtls.refusal.RefusalLog;
import dev.trellis.xds.cache.ConfigStore;
import dev.trellis.xds.cache.Snapshot;
import dev.trellis.xds.resource.ResourceType;
import dev.trellis.xds.server.AdsLimits;
import dev.trellis.xds.server.AdsServer;
import dev.trellis.xds.server.ClientAuthorizer;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.time.Clock;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * An {@link AdsServer} over in-process gRPC where everything runs on the calling thread: when a
 * request or a publication returns, every response it caused has been delivered. So a test can
 * assert that nothing was sent without waiting.
 */
public final class AdsHarness implements AutoCloseable {

  public final ConfigStore store = new ConfigStore();
  public final AdsServer ads;
  private final String name = InProcessServerBuilder.generateName();
  private Server server;
  private final ManagedChannel channel;

  public AdsHarness() {
    this(ClientAuthorizer.trustNodeId(), AdsLimits.defaults());
  }

  public AdsHarness(ClientAuthorizer authorizer, AdsLimits limits) {
    this(authorizer, limits, new RefusalLog(line -> {}, RefusalLog.DEFAULT_INTERVAL, Clock.systemUTC()));
  }

  public AdsHarness(ClientAuthorizer authorizer, AdsLimits limits, RefusalLog refusals) {
    ads = new AdsServer(store, authorizer, limits, MoreExecutors.directExecutor(), Clock.systemUTC(), refusals);
    startServer();
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
  }

  private void startServer() {
    try {
      server = InProcessServerBuilder.forName(name).directExecutor().addService(ads).build().start();
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The channel clients under test use. */
  public ManagedChannel channel() {
    return channel;
  }

  /** Takes the server away: open streams fail, new ones cannot connect. */
  public void stop() throws InterruptedException {
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  /** Brings the server back under the same name, with the same store. */
  public void restart() {
    startServer();
  }

  public void publish(Snapshot.Builder snapshot) {
    store.publish(snapshot.build());
  }

  public Sotw sotw(String nodeId) {
    return new Sotw(Node.newBuilder().setId(nodeId).build());
  }

  /** A stream whose first request carries {@code node} (user agent, metadata, ...). */
  public Sotw sotw(Node node) {
    return new Sotw(node);
  }

  public Delta delta(String nodeId) {
    return new Delta(Node.newBuilder().setId(nodeId).build());
  }

  public Delta delta(Node node) {
    return new Delta(node);
  }

  @Override
  public void close() throws InterruptedException {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  /** Collects what the server sends on one stream. */
  public abstract static class Collector<R> implements StreamObserver<R> {
    public final Deque<R> responses = new ArrayDeque<>();
    public Status closed;

    @Override
    public void onNext(R value) {
      responses.add(value);
    }

    @Override
    public void onError(Throwable t) {
      closed = Status.fromThrowable(t);
    }

    @Override
    public void onCompleted() {
      closed = Status.OK;
    }

    /** The next response; fails if none was sent. */
    public R take() {
      R r = responses.poll();
      if (r == null) {
        throw new AssertionError("expected a response, none was sent" + (closed != null ? " (stream closed: " + closed + ")" : ""));
      }
      return r;
    }

    public void assertNothingSent() {
      if (!responses.isEmpty()) {
        throw new AssertionError("expected no response, got " + responses.peek());
      }
    }
  }

  /** A raw state-of-the-world stream. */
  public final class Sotw extends Collector<DiscoveryResponse> {
    private final StreamObserver<DiscoveryRequest> requests;
    private final Node node;
    private boolean sentNode;

    Sotw(Node node) {
      this.node = node;
      requests = AggregatedDiscoveryServiceGrpc.newStub(channel).streamAggregatedResources(this);
    }

    public void send(DiscoveryRequest.Builder request) {
      if (!sentNode) {
        request.setNode(node);
        sentNode = true;
      }
      requests.onNext(request.build());
    }

    /** An initial request (no nonce) for {@code names} of {@code type}. */
    public void subscribe(ResourceType type, String... names) {
      send(DiscoveryRequest.newBuilder().setTypeUrl(type.typeUrl()).addAllResourceNames(List.of(names)));
    }

    public void ack(DiscoveryResponse response, String... names) {
      send(DiscoveryRequest.newBuilder().setTypeUrl(response.getTypeUrl()).setVersionInfo(response.getVersionInfo())
          .setResponseNonce(response.getNonce()).addAllResourceNames(List.of(names)));
    }

    public void nack(DiscoveryResponse response, String previousVersion, String error, String... names) {
      send(DiscoveryRequest.newBuilder().setTypeUrl(response.getTypeUrl()).setVersionInfo(previousVersion)
          .setResponseNonce(response.getNonce()).addAllResourceNames(List.of(names))
          .setErrorDetail(com.google.rpc.Status.newBuilder().setCode(3).setMessage(error)));
    }

    public void end() {
      requests.onCompleted();
    }
  }

  /** A raw incremental stream. */
  public final class Delta extends Collector<DeltaDiscoveryResponse> {
    private final StreamObserver<DeltaDiscoveryRequest> requests;
    private final Node node;
    private boolean sentNode;

    Delta(Node node) {
      this.node = node;
      requests = AggregatedDiscoveryServiceGrpc.newStub(channel).deltaAggregatedResources(this);
    }

    public void send(DeltaDiscoveryRequest.Builder request) {
      if (!sentNode) {
        request.setNode(node);
        sentNode = true;
      }
      requests.onNext(request.build());
    }

    public void subscribe(ResourceType type, String... names) {
      send(DeltaDiscoveryRequest.newBuilder().setTypeUrl(type.typeUrl()).addAllResourceNamesSubscribe(List.of(names)));
    }

    public void unsubscribe(ResourceType type, String... names) {
      send(DeltaDiscoveryRequest.newBuilder().setTypeUrl(type.typeUrl()).addAllResourceNamesUnsubscribe(List.of(names)));
    }

    public void ack(DeltaDiscoveryResponse response) {
      send(DeltaDiscoveryRequest.newBuilder().setTypeUrl(response.getTypeUrl()).setResponseNonce(response.getNonce()));
    }

    public void nack(DeltaDiscoveryResponse response, String error) {
      send(DeltaDiscoveryRequest.newBuilder().setTypeUrl(response.getTypeUrl()).setResponseNonce(response.getNonce())
          .setErrorDetail(com.google.rpc.Status.newBuilder().setCode(3).setMessage(error)));
    }

    public void end() {
      requests.onCompleted();
    }
  }
}
