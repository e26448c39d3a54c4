package dev.trellis.proxy.cni;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node agent's Unix socket (the other end of {@link UnixSocketNodeAgent}): one JSON request line
 * per connection, one JSON answer line. Connections are read on virtual threads; the agent itself is
 * called from one serial thread, so it needs no locks. A malformed request gets an {@code error}
 * answer; nothing a client sends stops the server.
 */
public final class NodeAgentServer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(NodeAgentServer.class);
  static final int MAX_REQUEST_BYTES = 64 * 1024;

  private final ServerSocketChannel server;
  private final Path socket;
  private final NodeAgent agent;
  private final ExecutorService serial = Executors.newSingleThreadExecutor(
      Thread.ofPlatform().name("trellis-node-agent").daemon().factory());
  private final ExecutorService connections = Executors.newCachedThreadPool(
      Thread.ofPlatform().name("trellis-node-agent-conn-", 0).daemon().factory());

  private NodeAgentServer(ServerSocketChannel server, Path socket, NodeAgent agent) {
    this.server = server;
    this.socket = socket;
    this.agent = agent;
  }

  /** Listens on {@code socket} (a stale socket file from an earlier run is replaced). */
  public static NodeAgentServer start(Path socket, NodeAgent agent) throws IOException {
    Files.createDirectories(socket.toAbsolutePath().getParent());
    Files.deleteIfExists(socket);
    ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    server.bind(UnixDomainSocketAddress.of(socket));
    NodeAgentServer s = new NodeAgentServer(server, socket, agent);
    s.connections.submit(s::acceptLoop);
    return s;
  }

  private Void acceptLoop() {
    while (server.isOpen()) {
      try {
        SocketChannel c = server.accept();
        connections.submit(() -> serve(c));
      } catch (IOException e) {
        if (server.isOpen()) {
          log.warn("node agent socket {}: {}", socket, e.toString());
        }
      }
    }
    return null;
  }

  private Void serve(SocketChannel c) {
    try (c) {
      String line = readLine(c);
      JsonObject answer;
      try {
        JsonObject request = JsonParser.parseString(line).getAsJsonObject();
        Future<JsonObject> f = serial.submit(() -> handle(request));
        answer = f.get();
      } catch (java.util.concurrent.ExecutionException e) {
        answer = error(e.getCause() instanceof CniPlugin.AgentException a ? a.getMessage()
            : "node agent failure: " + e.getCause());
      } catch (RuntimeException e) {
        answer = error("not a JSON request: " + e.getMessage());
      }
      c.write(ByteBuffer.wrap((answer + "\n").getBytes(StandardCharsets.UTF_8)));
    } catch (IOException e) {
      log.debug("node agent connection: {}", e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return null;
  }

  private JsonObject handle(JsonObject r) throws IOException {
    String op = r.has("op") ? r.get("op").getAsString() : "";
    return switch (op) {
      case "add" -> answer(agent.add(attachment(r)));
      case "del" -> {
        agent.delete(attachment(r));
        yield answer(new NodeAgent.Answer(NodeAgent.State.NOT_ENROLLED, "released"));
      }
      case "check" -> answer(agent.check(attachment(r)));
      case "status" -> answer(agent.status());
      case "gc" -> {
        List<String> valid = new ArrayList<>();
        if (r.has("validContainerIds")) {
          r.getAsJsonArray("validContainerIds").forEach(e -> valid.add(e.getAsString()));
        }
        agent.collect(valid);
        yield answer(agent.status());
      }
      default -> error("unknown op '" + op + "' (expected add, del, check, status or gc)");
    };
  }

  private static NodeAgent.Attachment attachment(JsonObject r) {
    return AttachmentJson.fromJson(r);
  }

  private static JsonObject answer(NodeAgent.Answer a) {
    JsonObject o = new JsonObject();
    o.addProperty("state", a.state().name());
    if (a.reason() != null) {
      o.addProperty("reason", a.reason());
    }
    return o;
  }

  private static JsonObject error(String message) {
    JsonObject o = new JsonObject();
    o.addProperty("error", message);
    return o;
  }

  private static String readLine(SocketChannel c) throws IOException {
    ByteBuffer buf = ByteBuffer.allocate(MAX_REQUEST_BYTES);
    while (true) {
      for (int i = 0; i < buf.position(); i++) {
        if (buf.get(i) == '\n') {
          return new String(buf.array(), 0, i, StandardCharsets.UTF_8);
        }
      }
      if (!buf.hasRemaining() || c.read(buf) < 0) {
        return new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8);
      }
    }
  }

  public Path socket() {
    return socket;
  }

  /**
   * Runs {@code task} on the thread that calls the agent (reconciliations after a label change must not
   * interleave with ADD/DEL); returns at once.
   */
  public void execute(Runnable task) {
    serial.execute(task);
  }

  @Override
  public void close() throws IOException {
    server.close();
    connections.shutdownNow();
    serial.shutdownNow();
    Files.deleteIfExists(socket);
  }
}
