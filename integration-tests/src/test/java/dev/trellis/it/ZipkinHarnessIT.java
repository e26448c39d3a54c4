package dev.trellis.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Zipkin harness itself, before any Trellis span goes through it: the real Zipkin server takes a mesh-shaped
 * two-span trace (the source node proxy's client span, the destination's server span as its child) in v2 JSON and
 * gives it back by trace id and by service name, parent/child links and tags intact, while listening on loopback
 * only.
 */
class ZipkinHarnessIT {

  private static final Clock CLOCK = Clock.systemUTC();
  private static final SecureRandom RANDOM = new SecureRandom();

  static ZipkinServer zipkin;

  @BeforeAll
  static void start() throws IOException {
    zipkin = ZipkinServer.start("ZipkinHarnessIT");
    System.out.printf("Zipkin server UP at %s (pid %d) after %d ms; log %s%n", zipkin.baseUri(), zipkin.pid(),
        zipkin.startup().toMillis(), zipkin.log().toAbsolutePath());
  }

  @AfterAll
  static void stop() {
    if (zipkin != null) {
      zipkin.close();
    }
  }

  @Test
  void aTwoSpanTracePostedAsV2JsonReadsBackByTraceIdWithTheServerSpanAChildOfTheClientSpanAndItsTags() {
    MeshTrace trace = MeshTrace.random("frontend", "greeter");
    zipkin.postSpans(trace.json(CLOCK.instant().truncatedTo(ChronoUnit.MICROS).toEpochMilli() * 1000));

    JsonArray spans = await("trace " + trace.traceId()).atMost(Duration.ofSeconds(10))
        .until(() -> zipkin.spans(trace.traceId()), s -> s.size() == 2);

    Map<String, JsonObject> byKind = StreamSupport.stream(spans.spliterator(), false).map(JsonElement::getAsJsonObject)
        .collect(Collectors.toMap(s -> s.get("kind").getAsString(), s -> s));
    assertThat(byKind).containsOnlyKeys("CLIENT", "SERVER");
    JsonObject client = byKind.get("CLIENT");
    JsonObject server = byKind.get("SERVER");
    assertThat(client.get("traceId").getAsString()).isEqualTo(trace.traceId());
    assertThat(server.get("traceId").getAsString()).isEqualTo(trace.traceId());
    assertThat(client.get("id").getAsString()).isEqualTo(trace.clientSpanId());
    assertThat(client.has("parentId")).as("the client span is the root").isFalse();
    assertThat(server.get("id").getAsString()).isEqualTo(trace.serverSpanId());
    assertThat(server.get("parentId").getAsString()).isEqualTo(trace.clientSpanId());
    assertThat(client.getAsJsonObject("localEndpoint").get("serviceName").getAsString()).isEqualTo("frontend");
    assertThat(server.getAsJsonObject("localEndpoint").get("serviceName").getAsString()).isEqualTo("greeter");
    assertThat(tags(client)).containsEntry("http.request.method", "GET")
        .containsEntry("http.response.status_code", "200").containsEntry("trellis.direction", "outbound")
        .containsEntry("trellis.source.workload", "frontend-v1").containsEntry("trellis.destination.service", "greeter");
    assertThat(tags(server)).containsEntry("trellis.direction", "inbound")
        .containsEntry("trellis.security_policy", "mutual_tls")
        .containsEntry("trellis.source.principal", "spiffe://cluster.local/ns/demo/sa/frontend");
  }

  @Test
  void theTraceIsFoundByEitherServiceNameAndBothServicesAreListed() {
    MeshTrace trace = MeshTrace.random("shop", "payments");
    zipkin.postSpans(trace.json(CLOCK.instant().truncatedTo(ChronoUnit.MICROS).toEpochMilli() * 1000));

    for (String service : List.of("shop", "payments")) {
      JsonArray traces = await("traces of " + service).atMost(Duration.ofSeconds(10))
          .until(() -> zipkin.traces(service), t -> !t.isEmpty());
      assertThat(traces).as("traces of %s", service).hasSize(1);
      JsonArray spans = traces.get(0).getAsJsonArray();
      assertThat(spans).hasSize(2).allSatisfy(s -> assertThat(s.getAsJsonObject().get("traceId").getAsString())
          .isEqualTo(trace.traceId()));
    }
    assertThat(zipkin.services()).contains("shop", "payments");
    assertThat(zipkin.spans("0123456789abcdef0123456789abcdef")).as("an unknown trace").isEmpty();
  }

  @Test
  void theServerListensOnLoopbackOnlyOnItsOnePortAndBindsNoUdpSocket() throws IOException {
    Set<String> inodes = socketInodes(zipkin.pid());

    assertThat(boundSockets(inodes, "tcp", "0A")).isNotEmpty() // 0A: LISTEN
        .allSatisfy(a -> assertThat(a.getAddress().isLoopbackAddress()).as("%s is loopback", a).isTrue())
        .allSatisfy(a -> assertThat(a.getPort()).isEqualTo(zipkin.port()));
    assertThat(boundSockets(inodes, "udp", null)).as("UDP sockets (a DNS resolver on *:port?)").isEmpty();
  }

  private static Map<String, String> tags(JsonObject span) {
    return span.getAsJsonObject("tags").entrySet().stream()
        .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().getAsString()));
  }

  /** The inodes of the sockets {@code pid} has open (its fds that link to {@code socket:[inode]}). */
  private static Set<String> socketInodes(long pid) throws IOException {
    Set<String> inodes = new HashSet<>();
    try (var fds = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
      for (Path fd : fds.toList()) {
        try {
          String target = Files.readSymbolicLink(fd).toString();
          if (target.startsWith("socket:[")) {
            inodes.add(target.substring(8, target.length() - 1));
          }
        } catch (IOException closedMeanwhile) {
          // an fd that went away while we listed them
        }
      }
    }
    return inodes;
  }

  /**
   * The local addresses of those of {@code inodes} in /proc/net/{protocol} and {protocol}6 (IPv4 and IPv6), in
   * {@code state} (hex, null for any): what {@code ss -ltnp} / {@code ss -lunp} show for the process.
   */
  private static List<InetSocketAddress> boundSockets(Set<String> inodes, String protocol, String state)
      throws IOException {
    List<InetSocketAddress> sockets = new ArrayList<>();
    for (String table : List.of("/proc/net/" + protocol, "/proc/net/" + protocol + "6")) {
      for (String line : Files.readAllLines(Path.of(table)).stream().skip(1).toList()) {
        String[] f = line.trim().split("\\s+");
        if ((state == null || f[3].equals(state)) && inodes.contains(f[9])) {
          String[] local = f[1].split(":");
          sockets.add(new InetSocketAddress(procAddress(local[0]), Integer.parseInt(local[1], 16)));
        }
      }
    }
    return sockets;
  }

  /** /proc/net/tcp* write addresses as 32-bit words in host (little-endian) order. */
  private static InetAddress procAddress(String hex) throws IOException {
    byte[] raw = HexFormat.of().parseHex(hex);
    byte[] address = new byte[raw.length];
    for (int word = 0; word < raw.length; word += 4) {
      for (int i = 0; i < 4; i++) {
        address[word + i] = raw[word + 3 - i];
      }
    }
    return InetAddress.getByAddress(address);
  }

  /** A request from {@code source} to {@code destination} as the two node proxies would report it. */
  private record MeshTrace(String source, String destination, String traceId, String clientSpanId,
      String serverSpanId) {

    static MeshTrace random(String source, String destination) {
      return new MeshTrace(source, destination, hex(16), hex(8), hex(8));
    }

    /** Zipkin v2 JSON; the server span starts 200 µs after the client span, inside it. */
    String json(long startMicros) {
      return """
          [{"traceId": "%1$s", "id": "%2$s", "kind": "CLIENT", "name": "get /hello",
            "timestamp": %4$d, "duration": 1500,
            "localEndpoint": {"serviceName": "%5$s", "ipv4": "10.244.1.10"},
            "remoteEndpoint": {"serviceName": "%6$s", "ipv4": "10.244.2.20", "port": 8080},
            "tags": {"http.request.method": "GET", "http.response.status_code": "200", "url.path": "/hello",
                     "trellis.direction": "outbound", "trellis.source.workload": "%5$s-v1",
                     "trellis.destination.service": "%6$s", "trellis.destination.workload": "%6$s-v1"}},
           {"traceId": "%1$s", "parentId": "%2$s", "id": "%3$s", "kind": "SERVER", "name": "get /hello",
            "timestamp": %7$d, "duration": 1000,
            "localEndpoint": {"serviceName": "%6$s", "ipv4": "10.244.2.20", "port": 8080},
            "remoteEndpoint": {"serviceName": "%5$s", "ipv4": "10.244.1.10"},
            "tags": {"http.request.method": "GET", "http.response.status_code": "200",
                     "trellis.direction": "inbound", "trellis.security_policy": "mutual_tls",
                     "trellis.source.principal": "spiffe://cluster.local/ns/demo/sa/%5$s"}}]
          """.formatted(traceId, clientSpanId, serverSpanId, startMicros, source, destination, startMicros + 200);
    }

    private static String hex(int bytes) {
      byte[] b = new byte[bytes];
      RANDOM.nextBytes(b);
      return HexFormat.of().formatHex(b);
    }
  }
}
