package dev.trellis.proxy.cni;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
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
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * The node agent over its Unix socket. One connection per call; the request is one JSON object on a
 * line, {@code {"op": "add"|"del"|"check"|"status"|"gc", ...}}, and so is the answer:
 * {@code {"state": "CAPTURED"|"NOT_ENROLLED"|"MISSING"|"READY"|"NOT_READY", "reason": "..."}} or
 * {@code {"error": "..."}}. A call that takes longer than the timeout counts as not answered.
 */
final class UnixSocketNodeAgent implements NodeAgent {

  static final int MAX_ANSWER_BYTES = 64 * 1024;

  private final Path socket;
  private final long timeoutMillis;

  UnixSocketNodeAgent(Path socket, long timeoutMillis) {
    this.socket = socket;
    this.timeoutMillis = timeoutMillis;
  }

  @Override
  public Answer add(Attachment attachment) throws IOException {
    return answer(call(request("add", attachment)));
  }

  @Override
  public void delete(Attachment attachment) throws IOException {
    answer(call(request("del", attachment)));
  }

  @Override
  public Answer check(Attachment attachment) throws IOException {
    return answer(call(request("check", attachment)));
  }

  @Override
  public Answer status() throws IOException {
    JsonObject r = new JsonObject();
    r.addProperty("op", "status");
    return answer(call(r));
  }

  @Override
  public void collect(List<String> validContainerIds) throws IOException {
    JsonObject r = new JsonObject();
    r.addProperty("op", "gc");
    JsonArray ids = new JsonArray();
    validContainerIds.forEach(ids::add);
    r.add("validContainerIds", ids);
    answer(call(r));
  }

  static JsonObject request(String op, Attachment a) {
    JsonObject r = AttachmentJson.toJson(a);
    r.addProperty("op", op);
    return r;
  }

  static Answer answer(JsonObject o) {
    if (o.has("error")) {
      throw new CniPlugin.AgentException(o.get("error").getAsString());
    }
    if (!o.has("state")) {
      throw new CniPlugin.AgentException("the node agent answered without a state: " + o);
    }
    try {
      State state = State.valueOf(o.get("state").getAsString().toUpperCase(Locale.ROOT));
      return new Answer(state, o.has("reason") ? o.get("reason").getAsString() : null);
    } catch (IllegalArgumentException e) {
      throw new CniPlugin.AgentException("the node agent answered an unknown state: " + o.get("state"));
    }
  }

  /**
   * One request and its answer, within the timeout (connect, write and read together). Non-blocking, on
   * the calling thread: a helper thread (or a virtual thread's I/O poller) left in native code makes
   * the JVM wait ~300 ms at exit, which every CNI ADD would pay.
   */
  private JsonObject call(JsonObject request) throws IOException {
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
      ByteBuffer buf = ByteBuffer.allocate(MAX_ANSWER_BYTES);
      while (true) {
        int n = ch.read(buf);
        int newline = indexOf(buf, (byte) '\n');
        if (newline >= 0 || n < 0) {
          return parse(new String(buf.array(), 0, newline >= 0 ? newline : buf.position(), StandardCharsets.UTF_8));
        }
        if (!buf.hasRemaining()) {
          throw new CniPlugin.AgentException("the node agent's answer exceeds " + MAX_ANSWER_BYTES + " bytes");
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

  private static JsonObject parse(String line) throws IOException {
    if (line.isBlank()) {
      throw new IOException("the node agent closed the connection without an answer");
    }
    try {
      return JsonParser.parseString(line).getAsJsonObject();
    } catch (JsonParseException | IllegalStateException e) {
      throw new CniPlugin.AgentException("the node agent's answer is not a JSON object: " + line);
    }
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
