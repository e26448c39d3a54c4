package dev.trellis.demo;

import dev.trellis.demo.grpc.GreeterGrpc;
import dev.trellis.demo.grpc.HelloReply;
import dev.trellis.demo.grpc.HelloRequest;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.function.DoubleSupplier;

/**
 * The demo gRPC greeter ({@code trellis.demo.v1.Greeter}): {@code SayHello} answers with the
 * workload's name and version; fails a fraction of calls with UNAVAILABLE and delays answers when
 * told to (see {@link DemoSettings}).
 */
final class GrpcDemo implements AutoCloseable {

  private final List<Server> servers = new ArrayList<>();

  GrpcDemo(DemoSettings settings, DoubleSupplier random) {
    for (int port : settings.ports()) {
      servers.add(NettyServerBuilder.forAddress(new InetSocketAddress(settings.address(), port))
          .addService(new Greeter(settings, random)).build());
    }
  }

  GrpcDemo start() throws IOException {
    for (Server s : servers) {
      s.start();
    }
    return this;
  }

  int port(int n) {
    return servers.get(n).getPort();
  }

  @Override
  public void close() {
    servers.forEach(Server::shutdownNow);
  }

  private static final class Greeter extends GreeterGrpc.GreeterImplBase {
    private final DemoSettings settings;
    private final DoubleSupplier random;

    Greeter(DemoSettings settings, DoubleSupplier random) {
      this.settings = settings;
      this.random = random;
    }

    @Override
    public void sayHello(HelloRequest request, StreamObserver<HelloReply> reply) {
      try {
        if (!settings.latency().isZero()) {
          Thread.sleep(settings.latency());
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      if (settings.failRate() > 0 && random.getAsDouble() < settings.failRate()) {
        reply.onError(Status.UNAVAILABLE.withDescription(settings.name() + " failed on purpose (failRate "
            + settings.failRate() + ")").asRuntimeException());
        return;
      }
      String who = request.getName().isEmpty() ? "world" : request.getName();
      reply.onNext(HelloReply.newBuilder().setMessage("Hello, " + who + ", from " + settings.name())
          .setWorkload(settings.name()).setVersion(settings.version()).build());
      reply.onCompleted();
    }
  }
}
