package dev.trellis.cni;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The plugin's side of the agent protocol against a real Unix socket. */
class UnixSocketAgentChannelTest {

  @TempDir
  Path dir;

  final ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
  final CompletableFuture<JsonObject> received = new CompletableFuture<>();

  @AfterEach
  void stop() {
    threads.shutdownNow();
  }

  static final AgentChannel.Attachment POD = new AgentChannel.Attachment("c1", "/var/run/netns/p", "eth0", "demo", "web-0",
      "u-1", List.of("10.1.0.7"));

  /** Serves one connection: reads a line, answers what {@code reply} makes of it (null: never answers). */
  Path agent(Function<JsonObject, String> reply) throws IOException {
    Path socket = dir.resolve("cni.sock");
    ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    server.bind(UnixDomainSocketAddress.of(socket));
    threads.submit(() -> {
      try (server; SocketChannel c = server.accept()) {
        ByteBuffer buf = ByteBuffer.allocate(4096);
        while (indexOfNewline(buf) < 0) {
          if (c.read(buf) < 0) {
            return null;
          }
        }
        JsonObject request = JsonParser.parseString(new String(buf.array(), 0, indexOfNewline(buf),
            StandardCharsets.UTF_8)).getAsJsonObject();
        received.complete(request);
        String answer = reply.apply(request);
        if (answer == null) {
          c.read(ByteBuffer.allocate(1)); // hold the connection open, answer nothing
          return null;
        }
        c.write(ByteBuffer.wrap((answer + "\n").getBytes(StandardCharsets.UTF_8)));
      }
      return null;
    });
    return socket;
  }

  static int indexOfNewline(ByteBuffer buf) {
    for (int i = 0; i < buf.position(); i++) {
      if (buf.get(i) == '\n') {
        return i;
      }
    }
    return -1;
  }

  @Test
  void addSendsThePodAndReadsTheState() throws Exception {
    Path socket = agent(r -> "{\"state\": \"CAPTURED\", \"reason\": \"namespace demo is enrolled\"}");
    AgentChannel.Answer a = new UnixSocketAgentChannel(socket, 5000).add(POD);
    assertThat(a).isEqualTo(new AgentChannel.Answer(AgentChannel.State.CAPTURED, "namespace demo is enrolled"));
    JsonObject r = received.get(5, TimeUnit.SECONDS);
    assertThat(r.get("op").getAsString()).isEqualTo("add");
    assertThat(r.get("pod").getAsString()).isEqualTo("web-0");
    assertThat(r.get("podUid").getAsString()).isEqualTo("u-1");
    assertThat(r.getAsJsonArray("ips").get(0).getAsString()).isEqualTo("10.1.0.7");
  }

  @Test
  void anErrorAnswerIsTheAgentsFailure() throws Exception {
    Path socket = agent(r -> "{\"error\": \"cannot attach cgroup program\"}");
    assertThatThrownBy(() -> new UnixSocketAgentChannel(socket, 5000).add(POD))
        .isInstanceOf(AgentChannel.AgentException.class).hasMessage("cannot attach cgroup program");
  }

  @Test
  void noAgentListeningIsNotAnswered() {
    Path socket = dir.resolve("absent.sock");
    assertThatThrownBy(() -> new UnixSocketAgentChannel(socket, 5000).status())
        .isInstanceOf(IOException.class).hasMessageContaining("cannot connect to " + socket);
  }

  @Test
  void anAgentThatDoesNotAnswerInTimeIsNotAnswered() throws Exception {
    Path socket = agent(r -> null);
    assertThatThrownBy(() -> new UnixSocketAgentChannel(socket, 300).add(POD))
        .isInstanceOf(IOException.class).hasMessage("no answer within 300 ms");
  }

  @Test
  void garbageFromTheAgentIsItsFailure() throws Exception {
    Path socket = agent(r -> "ok");
    assertThatThrownBy(() -> new UnixSocketAgentChannel(socket, 5000).status())
        .isInstanceOf(AgentChannel.AgentException.class).hasMessageContaining("not a JSON object");
    assertThat(Files.exists(socket)).isTrue();
  }
}
