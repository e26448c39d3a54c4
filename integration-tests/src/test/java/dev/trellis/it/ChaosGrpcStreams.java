package dev.trellis.it;

import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * gRPC through the mesh: on one channel, one bidirectional {@link ChaosPeer#ECHO} stream after another, each lasting
 * 3 s (shorter than a drain) with a sequence-numbered message every 20 ms; every echo must come back in order. A
 * stream that ends with a status other than OK, or with a missing or wrong echo, is a failure. The longest gap
 * between two echoes (across streams too) is the pause this client saw.
 */
final class ChaosGrpcStreams implements Runnable {

  private static final long STREAM_NANOS = TimeUnit.SECONDS.toNanos(3);
  private static final long MESSAGE_NANOS = TimeUnit.MILLISECONDS.toNanos(20);
  private final String target;
  private final ChaosClient.End end;
  private final ChaosClient.Failures failures;
  private long streams;
  private long streamsFailed;
  private long messages;
  private volatile long echoes;
  private volatile long lastEcho = System.nanoTime();
  private volatile long longestGapNanos;

  ChaosGrpcStreams(String target, ChaosClient.End end, ChaosClient.Failures failures) {
    this.target = target;
    this.end = end;
    this.failures = failures;
  }

  @Override
  public void run() {
    ManagedChannel channel = NettyChannelBuilder.forTarget(target).usePlaintext().build();
    try {
      long seq = 0;
      while (!end.reached()) {
        streams++;
        seq = stream(channel, seq);
      }
    } finally {
      channel.shutdownNow();
    }
  }

  /** One stream; returns the next sequence number. */
  private long stream(ManagedChannel channel, long firstSeq) {
    CompletableFuture<Status> done = new CompletableFuture<>();
    long[] expected = {firstSeq};
    String[] wrong = {null};
    StreamObserver<byte[]> requests = ClientCalls.asyncBidiStreamingCall(channel.newCall(ChaosPeer.ECHO,
        CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS)), new StreamObserver<>() {
          @Override
          public void onNext(byte[] echo) {
            long now = System.nanoTime();
            longestGapNanos = Math.max(longestGapNanos, now - lastEcho);
            lastEcho = now;
            echoes++;
            long got = ByteBuffer.wrap(echo).getLong();
            if (got != expected[0] && wrong[0] == null) {
              wrong[0] = "echo " + got + " where " + expected[0] + " was expected";
            }
            expected[0] = got + 1;
          }

          @Override
          public void onError(Throwable t) {
            done.complete(Status.fromThrowable(t));
          }

          @Override
          public void onCompleted() {
            done.complete(Status.OK);
          }
        });
    long seq = firstSeq;
    long start = System.nanoTime();
    try {
      while (System.nanoTime() - start < STREAM_NANOS && !done.isDone()) {
        requests.onNext(ByteBuffer.allocate(16).putLong(seq++).putLong(start).array());
        messages++;
        ChaosClient.paceUntil(start + (seq - firstSeq) * MESSAGE_NANOS);
      }
      requests.onCompleted();
    } catch (RuntimeException e) {
      done.complete(Status.fromThrowable(e));
    }
    Status status;
    try {
      status = done.get(40, TimeUnit.SECONDS);
    } catch (ExecutionException | TimeoutException e) {
      status = Status.DEADLINE_EXCEEDED.withDescription("no end of stream within 40 s");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      status = Status.CANCELLED;
    }
    if (!status.isOk() || wrong[0] != null || expected[0] != seq) {
      streamsFailed++;
      failures.add("grpc", "stream " + streams + ": status " + status.getCode() + " " + status.getDescription()
          + ", echoes up to " + expected[0] + " of " + seq + (wrong[0] == null ? "" : ", " + wrong[0]));
    }
    return seq;
  }

  Map<String, Long> figures() {
    Map<String, Long> f = new LinkedHashMap<>();
    f.put("streams", streams);
    f.put("streamsFailed", streamsFailed);
    f.put("messages", messages);
    f.put("echoes", echoes);
    f.put("longestGapMs", TimeUnit.NANOSECONDS.toMillis(longestGapNanos));
    return f;
  }
}
