package dev.trellis.it;

import dev.trellis.demo.v1.GreeterGrpc;
import dev.trellis.demo.v1.HelloRequest;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import java.util.concurrent.TimeUnit;

/**
 * An unmodified gRPC client for the namespace tests: plaintext to {@code HOST:PORT} (a service VIP), COUNT
 * unary calls, one line per call ("ok BACKEND" or "error STATUS"); exit status 0 only if every call succeeded.
 */
public final class GrpcCall {

  private GrpcCall() {}

  public static void main(String[] args) throws Exception {
    ManagedChannel channel = NettyChannelBuilder.forTarget(args[0]).usePlaintext().build();
    int failures = 0;
    try {
      GreeterGrpc.GreeterBlockingStub stub = GreeterGrpc.newBlockingStub(channel);
      for (int i = 0; i < Integer.parseInt(args[1]); i++) {
        try {
          var reply = stub.withDeadlineAfter(5, TimeUnit.SECONDS).sayHello(HelloRequest.newBuilder().setName("pod").build());
          System.out.println("ok " + reply.getBackend());
        } catch (StatusRuntimeException e) {
          failures++;
          System.out.println("error " + e.getStatus().getCode() + " " + e.getStatus().getDescription());
        }
      }
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    System.exit(failures == 0 ? 0 : 1);
  }
}
