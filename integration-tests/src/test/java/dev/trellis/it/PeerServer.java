package dev.trellis.it;

import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;

/**
 * A server outside the mesh for the namespace tests (a host on the network, a metadata server): answers every HTTP
 * request with the address it was connected from, and prints each one ({@code peer <client> -> <local>}), so a
 * test can tell whether a connection came from a pod or from a node. Prints "ready" once every address listens.
 *
 * <pre>PeerServer ADDRESS:PORT...</pre>
 */
public final class PeerServer {

  private PeerServer() {}

  public static void main(String[] args) throws Exception {
    for (String a : args) {
      int colon = a.lastIndexOf(':');
      InetSocketAddress bind = new InetSocketAddress(a.substring(0, colon), Integer.parseInt(a.substring(colon + 1)));
      HttpServer http = HttpServer.create(bind, 64);
      http.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
      http.createContext("/", ex -> {
        ex.getRequestBody().readAllBytes();
        String peer = ex.getRemoteAddress().getAddress().getHostAddress();
        System.out.println("peer " + peer + " -> " + a);
        System.out.flush();
        byte[] body = ("peer " + peer + "\n").getBytes(StandardCharsets.UTF_8);
        ex.sendResponseHeaders(200, body.length);
        ex.getResponseBody().write(body);
        ex.close();
      });
      http.start();
    }
    System.out.println("ready");
    System.out.flush();
    new CountDownLatch(1).await();
  }
}
