package dev.trellis.it;

import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An unmodified "pod" application for the namespace tests, run in its own JVM inside a pod's network
 * namespace: HTTP on one port answering its name (every {@code failEvery}-th request a 503, so retries have
 * something to hide; each one is logged as "503 for request N"), and the demo Greeter over gRPC on another.
 * Prints "ready" once both listen.
 *
 * <pre>PodServer NAME BIND_ADDRESS HTTP_PORT GRPC_PORT FAIL_EVERY</pre>
 */
public final class PodServer {

  private PodServer() {}

  public static void main(String[] args) throws Exception {
    String name = args[0];
    String bind = args[1];
    int failEvery = Integer.parseInt(args[4]);
    AtomicInteger requests = new AtomicInteger();
    HttpServer http = HttpServer.create(new InetSocketAddress(bind, Integer.parseInt(args[2])), 64);
    http.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
    http.createContext("/", ex -> {
      ex.getRequestBody().readAllBytes();
      int n = requests.incrementAndGet();
      boolean fail = failEvery > 0 && n % failEvery == 0;
      byte[] body = ((fail ? "flaky " : "") + name + "\n").getBytes(StandardCharsets.UTF_8);
      if (fail) {
        System.out.println("503 for request " + n);
        System.out.flush();
      }
      ex.sendResponseHeaders(fail ? 503 : 200, body.length);
      ex.getResponseBody().write(body);
      ex.close();
    });
    http.start();
    GreeterBackend grpc = new GreeterBackend(name, bind, Integer.parseInt(args[3]));
    System.out.println("ready " + name + " http " + args[2] + " grpc " + grpc.port());
    System.out.flush();
    new CountDownLatch(1).await();
  }
}
