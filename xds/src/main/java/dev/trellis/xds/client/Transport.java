package dev.trellis.xds.client;

import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;

/**
 * One ADS stream of an {@link AdsClient}, in one protocol variant. gRPC callbacks hop onto the
 * client's executor; everything else runs there already.
 *
 * @param <Q> request message
 * @param <R> response message
 */
abstract class Transport<Q, R> implements ClientResponseObserver<Q, R> {

  final AdsClient client;
  ClientCallStreamObserver<Q> requests;

  Transport(AdsClient client) {
    this.client = client;
  }

  abstract void open();

  /** Sends the initial subscription of a type (also after a reconnect). */
  abstract void subscribeAll(AdsClient.TypeWatch tw);

  /** Tells the server about a gained ({@code added}) or lost interest in {@code name} ("*" for the wildcard). */
  abstract void subscriptionChanged(AdsClient.TypeWatch tw, String name, boolean added);

  /** Handles one response on the client's executor. */
  abstract void handle(R response);

  @Override
  public void beforeStart(ClientCallStreamObserver<Q> requestStream) {
    this.requests = requestStream;
  }

  void cancel() {
    requests.cancel("client closed", null);
  }

  @Override
  public void onNext(R response) {
    client.executor.execute(() -> {
      client.healthy(this);
      handle(response);
    });
  }

  @Override
  public void onError(Throwable t) {
    client.executor.execute(() -> client.failed(this, Status.fromThrowable(t)));
  }

  @Override
  public void onCompleted() {
    client.executor.execute(() -> client.failed(this, Status.UNAVAILABLE.withDescription("control plane ended the stream")));
  }

  static com.google.rpc.Status error(String message) {
    return com.google.rpc.Status.newBuilder().setCode(Status.Code.INVALID_ARGUMENT.value()).setMessage(message).build();
  }
}
