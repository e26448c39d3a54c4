package dev.trellis.it;

import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.CountDownLatch;

/**
 * The chaos suite's servers, run as a mesh workload ({@code run: {command: [...]}}): {@code tcp-echo=PORT} echoes
 * every byte of every connection back and half-closes after the client does; {@code grpc-echo=PORT} serves
 * {@link #ECHO}, a bidirectional stream that answers every message with the same bytes. Both listen on
 * {@code $TRELLIS_WORKLOAD_ADDRESS}. No .proto: the messages are raw bytes.
 */
public final class ChaosPeer {

  /** {@code chaos.Echo/Stream}: every request message comes back as a response, in order. */
  static final MethodDescriptor<byte[], byte[]> ECHO = MethodDescriptor.<byte[], byte[]>newBuilder()
      .setType(MethodDescriptor.MethodType.BIDI_STREAMING)
      .setFullMethodName(MethodDescriptor.generateFullMethodName("chaos.Echo", "Stream"))
      .setRequestMarshaller(Bytes.INSTANCE).setResponseMarshaller(Bytes.INSTANCE).build();

  private ChaosPeer() {}

  public static void main(String[] args) throws Exception {
    String address = System.getenv().getOrDefault("TRELLIS_WORKLOAD_ADDRESS", "127.0.0.1");
    for (String arg : args) {
      String[] kv = arg.split("=", 2);
      int port = Integer.parseInt(kv[1]);
      switch (kv[0]) {
        case "tcp-echo" -> tcpEcho(address, port);
        case "grpc-echo" -> grpcEcho(address, port);
        default -> throw new IllegalArgumentException(arg + ": expected tcp-echo=PORT or grpc-echo=PORT");
      }
    }
    System.out.println("chaos peer up on " + address + ": " + String.join(" ", args));
    new CountDownLatch(1).await(); // serves until killed
  }

  private static void tcpEcho(String address, int port) throws IOException {
    ServerSocket server = new ServerSocket();
    server.setReuseAddress(true);
    server.bind(new InetSocketAddress(InetAddress.getByName(address), port), 128);
    Thread.ofPlatform().name("tcp-echo-accept").start(() -> {
      while (true) {
        try {
          Socket s = server.accept();
          Thread.ofVirtual().start(() -> echo(s));
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }
    });
  }

  private static void echo(Socket s) {
    try (s) {
      InputStream in = s.getInputStream();
      OutputStream out = s.getOutputStream();
      byte[] buffer = new byte[64 * 1024];
      for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
        out.write(buffer, 0, n);
      }
      s.shutdownOutput();
    } catch (IOException e) {
      System.out.println("tcp-echo: connection from " + s.getRemoteSocketAddress() + " ended: " + e);
    }
  }

  private static void grpcEcho(String address, int port) throws IOException {
    ServerServiceDefinition service = ServerServiceDefinition.builder("chaos.Echo")
        .addMethod(ECHO, ServerCalls.asyncBidiStreamingCall(responses -> new StreamObserver<byte[]>() {
          @Override
          public void onNext(byte[] message) {
            responses.onNext(message);
          }

          @Override
          public void onError(Throwable t) {
            System.out.println("grpc-echo: stream ended by the client: " + t);
          }

          @Override
          public void onCompleted() {
            responses.onCompleted();
          }
        })).build();
    Server server = NettyServerBuilder.forAddress(new InetSocketAddress(InetAddress.getByName(address), port))
        .addService(service).build().start();
    Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow));
  }

  /** Raw bytes as a gRPC message. */
  enum Bytes implements MethodDescriptor.Marshaller<byte[]> {
    INSTANCE;

    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }
}
