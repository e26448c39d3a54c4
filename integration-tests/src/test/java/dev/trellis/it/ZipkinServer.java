package dev.trellis.it;

import static org.awaitility.Awaitility.await;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The real Zipkin server ({@code io.zipkin:zipkin-server}'s exec jar, copied to {@code target/zipkin/} by the
 * build) as a child process: in-memory storage, HTTP (collector, query API and gRPC collector on one port) bound to
 * 127.0.0.1 only, on a free port. {@link #start} returns once {@code /health} says UP; its output goes to a file
 * under {@code target/zipkin/} for diagnosis. {@link #close} ends it and anything it started.
 *
 * <p>Zipkin's v2 API: {@code POST /api/v2/spans} (v2 JSON), {@code GET /api/v2/trace/{id}},
 * {@code /api/v2/traces?serviceName=}, {@code /api/v2/services}.
 */
final class ZipkinServer implements AutoCloseable {

  static final Duration START_TIMEOUT = Duration.ofSeconds(90);
  private static final Duration STOP_TIMEOUT = Duration.ofSeconds(10);

  private final Process process;
  private final int port;
  private final Path log;
  private Duration startup = Duration.ZERO;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  private final Thread reaper;

  private ZipkinServer(Process process, int port, Path log, Thread reaper) {
    this.process = process;
    this.port = port;
    this.log = log;
    this.reaper = reaper;
  }

  /** Starts the jar named by the {@code zipkin.jar} system property (set by the build) and waits until it is UP. */
  static ZipkinServer start(String name) throws IOException {
    Path jar = Path.of(System.getProperty("zipkin.jar", "target/zipkin/zipkin-server.jar"));
    if (!Files.isRegularFile(jar)) {
      throw new IllegalStateException("no Zipkin server jar at " + jar.toAbsolutePath()
          + " (the build copies it in pre-integration-test: run `./mvnw -pl integration-tests verify`)");
    }
    Path logs = Path.of(System.getProperty("zipkin.logs", "target/zipkin"));
    Files.createDirectories(logs);
    Path log = logs.resolve(name + ".log");
    int port = freeLoopbackPort();
    // The JDK running the tests (JDK 25): no other Java needed.
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> command = List.of(java, "-Xms64m", "-Xmx512m", "-XX:TieredStopAtLevel=1",
        "--enable-native-access=ALL-UNNAMED",
        // Armeria's own DNS resolver keeps a UDP socket bound to all interfaces; the JDK's opens none.
        "-Dcom.linecorp.armeria.useJdkDnsResolver=true",
        "-jar", jar.toAbsolutePath().toString(),
        // Spring Boot binds a list from one property source only, so the port entry is given whole here:
        // loopback only (never all interfaces), our port, HTTP (Zipkin's gRPC collector shares it).
        "--armeria.ports[0].ip=127.0.0.1",
        "--armeria.ports[0].port=" + port,
        "--armeria.ports[0].protocols[0]=http",
        "--zipkin.storage.type=mem",
        "--zipkin.self-tracing.enabled=false",
        "--zipkin.collector.scribe.enabled=false",
        "--spring.main.banner-mode=off");
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.to(log.toFile()));
    // Zipkin reads its settings from the environment too (STORAGE_TYPE, KAFKA_BOOTSTRAP_SERVERS, ...): start it
    // from a clean one so nothing outside the test changes what it does or where it connects.
    builder.environment().keySet().retainAll(List.of("PATH", "HOME", "LANG", "TMPDIR"));
    long begin = System.nanoTime();
    Process process = builder.start();
    Thread reaper = new Thread(() -> destroyTree(process.toHandle()), "zipkin-reaper-" + name);
    Runtime.getRuntime().addShutdownHook(reaper);
    ZipkinServer server = new ZipkinServer(process, port, log, reaper);
    try {
      await("Zipkin /health UP on 127.0.0.1:" + port).atMost(START_TIMEOUT).pollInterval(Duration.ofMillis(100))
          .failFast("Zipkin exited before it was UP", () -> !process.isAlive())
          .ignoreExceptions().until(server::up);
    } catch (RuntimeException | Error e) {
      server.close();
      throw new IllegalStateException("Zipkin did not start; its output:\n" + tail(log), e);
    }
    server.startup = Duration.ofNanos(System.nanoTime() - begin);
    return server;
  }

  URI baseUri() {
    return URI.create("http://127.0.0.1:" + port);
  }

  int port() {
    return port;
  }

  long pid() {
    return process.pid();
  }

  /** From {@code start} to the first healthy answer. */
  Duration startup() {
    return startup;
  }

  /** The server's output (stdout and stderr). */
  Path log() {
    return log;
  }

  /** Posts spans in Zipkin v2 JSON (an array); Zipkin answers 202 once they are accepted. */
  void postSpans(String json) {
    HttpResponse<String> response = send(HttpRequest.newBuilder(baseUri().resolve("/api/v2/spans"))
        .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)).build());
    if (response.statusCode() != 202) {
      throw new IllegalStateException("POST /api/v2/spans: " + response.statusCode() + " " + response.body());
    }
  }

  /** The spans of one trace ({@code /api/v2/trace/{id}}), empty when Zipkin has none. */
  JsonArray spans(String traceId) {
    return fetch("/api/v2/trace/" + traceId).map(JsonElement::getAsJsonArray).orElseGet(JsonArray::new);
  }

  /** Recent traces with a span of {@code serviceName} ({@code /api/v2/traces}), each an array of spans. */
  JsonArray traces(String serviceName) {
    return fetch("/api/v2/traces?serviceName=" + URLEncoder.encode(serviceName, StandardCharsets.UTF_8))
        .orElseThrow().getAsJsonArray();
  }

  /** The service names Zipkin has seen ({@code /api/v2/services}). */
  List<String> services() {
    List<String> names = new ArrayList<>();
    fetch("/api/v2/services").orElseThrow().getAsJsonArray().forEach(e -> names.add(e.getAsString()));
    return names;
  }

  /** Ends the server and every process it started: TERM, then KILL after a grace period. */
  @Override
  public void close() {
    destroyTree(process.toHandle());
    try {
      Runtime.getRuntime().removeShutdownHook(reaper);
    } catch (IllegalStateException shuttingDown) {
      // the hook runs anyway
    }
  }

  private boolean up() {
    return fetch("/health").map(h -> h.getAsJsonObject().get("status").getAsString().equals("UP")).orElse(false);
  }

  /** GET, parsed; empty on 404. */
  private Optional<JsonElement> fetch(String path) {
    HttpResponse<String> response = send(HttpRequest.newBuilder(baseUri().resolve(path)).GET().build());
    if (response.statusCode() == 404) {
      return Optional.empty();
    }
    if (response.statusCode() != 200) {
      throw new IllegalStateException("GET " + path + ": " + response.statusCode() + " " + response.body());
    }
    return Optional.of(JsonParser.parseString(response.body()));
  }

  private HttpResponse<String> send(HttpRequest request) {
    try {
      return http.send(HttpRequest.newBuilder(request, (n, v) -> true).timeout(Duration.ofSeconds(10)).build(),
          HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new UncheckedIOException(request.method() + " " + request.uri() + " (Zipkin log: " + log + ")", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  private static void destroyTree(ProcessHandle root) {
    List<ProcessHandle> all = new ArrayList<>(root.descendants().toList());
    all.add(root);
    all.forEach(ProcessHandle::destroy);
    for (ProcessHandle p : all) {
      try {
        p.onExit().get(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      } catch (Exception notYet) {
        p.destroyForcibly();
      }
    }
  }

  private static int freeLoopbackPort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  private static String tail(Path log) {
    try {
      List<String> lines = Files.readAllLines(log);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    } catch (IOException e) {
      return "(cannot read " + log + ": " + e + ")";
    }
  }
}
