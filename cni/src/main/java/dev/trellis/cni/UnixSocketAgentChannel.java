package dev.trellis.cni;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The node agent over its Unix socket ({@link AgentProtocol}): one connection per call, a request line and an answer
 * line. A call that takes longer than the timeout counts as not answered.
 */
final class UnixSocketAgentChannel implements AgentChannel {

  private final Path socket;
  private final long timeoutMillis;

  UnixSocketAgentChannel(Path socket, long timeoutMillis) {
    this.socket = socket;
    this.timeoutMillis = timeoutMillis;
  }

  @Override
  public Answer add(Attachment attachment) throws IOException {
    return AgentProtocol.parseAnswer(call(AgentProtocol.request(AgentProtocol.Op.ADD, attachment)));
  }

  @Override
  public void delete(Attachment attachment) throws IOException {
    AgentProtocol.parseAnswer(call(AgentProtocol.request(AgentProtocol.Op.DEL, attachment)));
  }

  @Override
  public Answer check(Attachment attachment) throws IOException {
    return AgentProtocol.parseAnswer(call(AgentProtocol.request(AgentProtocol.Op.CHECK, attachment)));
  }

  @Override
  public Answer status() throws IOException {
    return AgentProtocol.parseAnswer(call(AgentProtocol.status()));
  }

  @Override
  public void collect(List<String> validContainerIds) throws IOException {
    AgentProtocol.parseAnswer(call(AgentProtocol.collect(validContainerIds)));
  }

  /**
   * One request and its answer, within the timeout (connect, write and read together). Non-blocking, on
   * the calling thread: a helper thread (or a virtual thread's I/O poller) left in native code makes
   * the JVM wait ~300 ms at exit, which every CNI ADD would pay.
   */
  private String call(String request) throws IOException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX); Selector selector = Selector.open()) {
      ch.configureBlocking(false);
      try {
        if (!ch.connect(UnixDomainSocketAddress.of(socket))) {
          ch.register(selector, SelectionKey.OP_CONNECT);
          await(selector, deadline);
          ch.finishConnect();
        }
      } catch (IOException e) {
        if (e.getMessage() != null && e.getMessage().startsWith("no answer within")) {
          throw e;
        }
        throw new IOException("cannot connect to " + socket + ": " + e.getMessage(), e);
      }
      ByteBuffer out = ByteBuffer.wrap((request + "\n").getBytes(StandardCharsets.UTF_8));
      ch.register(selector, SelectionKey.OP_WRITE);
      while (out.hasRemaining()) {
        if (ch.write(out) == 0) {
          await(selector, deadline);
        }
      }
      ch.register(selector, SelectionKey.OP_READ);
      ByteBuffer buf = ByteBuffer.allocate(AgentProtocol.MAX_LINE_BYTES);
      while (true) {
        int n = ch.read(buf);
        int newline = indexOf(buf, (byte) '\n');
        if (newline >= 0 || n < 0) {
          return line(new String(buf.array(), 0, newline >= 0 ? newline : buf.position(), StandardCharsets.UTF_8));
        }
        if (!buf.hasRemaining()) {
          throw new AgentException("the node agent's answer exceeds " + AgentProtocol.MAX_LINE_BYTES + " bytes");
        }
        if (n == 0) {
          await(selector, deadline);
        }
      }
    }
  }

  /** Waits for the registered event, or fails once the deadline has passed. */
  private void await(Selector selector, long deadline) throws IOException {
    long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
    if (left <= 0 || selector.select(left) == 0 && System.nanoTime() - deadline >= 0) {
      throw new IOException("no answer within " + timeoutMillis + " ms");
    }
    selector.selectedKeys().clear();
  }

  private static String line(String line) throws IOException {
    if (line.isBlank()) {
      throw new IOException("the node agent closed the connection without an answer");
    }
    return line;
  }

  private static int indexOf(ByteBuffer buf, byte b) {
    for (int i = 0; i < buf.position(); i++) {
      if (buf.get(i) == b) {
        return i;
      }
    }
    return -1;
  }
}
