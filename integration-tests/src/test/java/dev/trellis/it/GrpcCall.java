package dev.trellis.it;

import dev.trellis.demo.grpc.GreeterGrpc;
import dev.trellis.demo.grpc.HelloRequest;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import java.util.concurrent.TimeUnit;

/**
 * An unmodified gRPC client for the namespace tests: plaintext to {@code HOST:PORT} (a service VIP), COUNT
 * unary calls on one channel (one connection), INTERVAL_MS apart (default 0), one line per call ("ok BACKEND"
 * or "error STATUS"); exit status 0 only if every call succeeded.
 */
public final class GrpcCall {

  private GrpcCall() {}

  public static void main(String[] args) throws Exception {
    ManagedChannel channel = NettyChannelBuilder.forTarget(args[0]).usePlaintext().build();
    int failures = 0;
    try {
      GreeterGrpc.GreeterBlockingStub stub = GreeterGrpc.newBlockingStub(channel);
      long interval = args.length > 2 ? Long.parseLong(args[2]) : 0;
      for (int i = 0; i < Integer.parseInt(args[1]); i++) {
        if (i > 0 && interval > 0) {
          Thread.sleep(interval); // pacing a client, not waiting for a condition
        }
        try {
          var reply = stub.withDeadlineAfter(5, TimeUnit.SECONDS).sayHello(HelloRequest.newBuilder().setName("pod").build());
          System.out.println("ok " + reply.getWorkload());
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
