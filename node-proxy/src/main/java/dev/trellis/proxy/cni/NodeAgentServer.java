package dev.trellis.proxy.cni;

import dev.trellis.cni.AgentChannel;
import dev.trellis.cni.AgentProtocol;
import dev.trellis.proxy.redirect.CaptureAgent;
import dev.trellis.proxy.redirect.CaptureException;
import dev.trellis.proxy.redirect.PodAttachment;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node agent's Unix socket, the CNI plugin's other end ({@link AgentProtocol}): one JSON request line per
 * connection, one JSON answer line. It translates between the wire's types and the {@link CaptureAgent}'s, so
 * the agent knows nothing of CNI. Connections are read on their own threads; the agent itself is called from one
 * serial thread, so it needs no locks. A malformed request gets an {@code error} answer; nothing a client sends
 * stops the server.
 */
public final class NodeAgentServer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(NodeAgentServer.class);

  private final ServerSocketChannel server;
  private final Path socket;
  private final CaptureAgent agent;
  private final ExecutorService serial = Executors.newSingleThreadExecutor(
      Thread.ofPlatform().name("trellis-node-agent").daemon().factory());
  private final ExecutorService connections = Executors.newCachedThreadPool(
      Thread.ofPlatform().name("trellis-node-agent-conn-", 0).daemon().factory());

  private NodeAgentServer(ServerSocketChannel server, Path socket, CaptureAgent agent) {
    this.server = server;
    this.socket = socket;
    this.agent = agent;
  }

  /** Listens on {@code socket} (a stale socket file from an earlier run is replaced). */
  public static NodeAgentServer start(Path socket, CaptureAgent agent) throws IOException {
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
      String answer;
      try {
        AgentProtocol.Request request = AgentProtocol.parseRequest(line);
        Future<String> f = serial.submit(() -> handle(request));
        answer = f.get();
      } catch (ExecutionException e) {
        answer = AgentProtocol.error(e.getCause() instanceof CaptureException refused ? refused.getMessage()
            : "node agent failure: " + e.getCause());
      } catch (IllegalArgumentException e) {
        answer = AgentProtocol.error(e.getMessage());
      } catch (RuntimeException e) {
        answer = AgentProtocol.error("node agent failure: " + e);
      }
      c.write(ByteBuffer.wrap((answer + "\n").getBytes(StandardCharsets.UTF_8)));
    } catch (IOException e) {
      log.debug("node agent connection: {}", e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return null;
  }

  /** One request, on the serial thread. */
  private String handle(AgentProtocol.Request r) {
    return switch (r.op()) {
      case ADD -> answer(agent.add(pod(r.attachment())));
      case DEL -> {
        agent.delete(pod(r.attachment()));
        yield AgentProtocol.answer(new AgentChannel.Answer(AgentChannel.State.NOT_ENROLLED, "released"));
      }
      case CHECK -> answer(agent.check(pod(r.attachment())));
      case STATUS -> answer(agent.status());
      case GC -> {
        agent.collect(r.validContainerIds());
        yield answer(agent.status());
      }
    };
  }

  private static PodAttachment pod(AgentChannel.Attachment a) {
    return new PodAttachment(a.containerId(), a.netns(), a.ifname(), a.namespace(), a.pod(), a.podUid(), a.ips());
  }

  private static String answer(CaptureAgent.Answer a) {
    AgentChannel.State state = switch (a.state()) {
      case CAPTURED -> AgentChannel.State.CAPTURED;
      case NOT_ENROLLED -> AgentChannel.State.NOT_ENROLLED;
      case MISSING -> AgentChannel.State.MISSING;
      case READY -> AgentChannel.State.READY;
      case NOT_READY -> AgentChannel.State.NOT_READY;
    };
    return AgentProtocol.answer(new AgentChannel.Answer(state, a.reason()));
  }

  private static String readLine(SocketChannel c) throws IOException {
    ByteBuffer buf = ByteBuffer.allocate(AgentProtocol.MAX_LINE_BYTES);
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
