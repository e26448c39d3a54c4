package dev.trellis.it;

import dev.trellis.demo.grpc.GreeterGrpc;
import dev.trellis.demo.grpc.HelloReply;
import dev.trellis.demo.grpc.HelloRequest;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/** A Greeter server on one workload address that says who it is; it can be made to fail with UNAVAILABLE. */
final class GreeterBackend implements AutoCloseable {

  final String name;
  final AtomicInteger calls = new AtomicInteger();
  final AtomicBoolean unavailable = new AtomicBoolean();
  private final Server server;

  GreeterBackend(String name, String address, int port) throws IOException {
    this.name = name;
    this.server = NettyServerBuilder.forAddress(new InetSocketAddress(address, port))
        .addService(new GreeterGrpc.GreeterImplBase() {
          @Override
          public void sayHello(HelloRequest request, StreamObserver<HelloReply> response) {
            calls.incrementAndGet();
            if (unavailable.get()) {
              response.onError(Status.UNAVAILABLE.withDescription(name + " is flaky").asRuntimeException());
              return;
            }
            response.onNext(HelloReply.newBuilder().setMessage("hello " + request.getName()).setWorkload(name).build());
            response.onCompleted();
          }
        })
        .build().start();
  }

  int port() {
    return server.getPort();
  }

  @Override
  public void close() throws InterruptedException {
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }
}
