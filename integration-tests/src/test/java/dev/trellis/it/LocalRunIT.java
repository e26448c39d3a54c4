package dev.trellis.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.demo.grpc.GreeterGrpc;
import dev.trellis.demo.grpc.HelloReply;
import dev.trellis.demo.grpc.HelloRequest;
import io.grpc.HttpConnectProxiedSocketAddress;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code trellis up} end to end, through the {@code ./trellis} launcher at the repository root, on
 * the demo mesh (loopback addresses 127.0.61.x and 127.0.62.x, the standard ports; the control plane
 * on 127.0.0.1:15010/15012/15014): weighted split, retries hiding a flaky instance and a circuit
 * breaker, seen by real requests through node-1's SOCKS entry; {@code status}; {@code down} leaving
 * no process. And the README quick start, run exactly as written.
 */
class LocalRunIT {

  static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
  static final InetSocketAddress ENTRY = new InetSocketAddress("127.0.61.1", 15001);
  static final String CLIENT = "127.0.61.10";
  private static final Duration LIMIT = Duration.ofMinutes(10);

  private final List<Path> stateDirs = new ArrayList<>();

  record Result(int exit, String output) {}

  /** Runs a command from the repository root; output is stdout and stderr together. */
  static Result run(List<String> command) throws IOException, InterruptedException {
    Path out = Files.createTempFile("trellis-it", ".out");
    try {
      Process p = new ProcessBuilder(command).directory(ROOT.toFile()).redirectErrorStream(true)
          .redirectOutput(out.toFile()).start();
      if (!p.waitFor(LIMIT.toSeconds(), TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new AssertionError(command + " did not finish within " + LIMIT + ":\n" + Files.readString(out));
      }
      return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(out);
    }
  }

  static Result trellis(String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of(ROOT.resolve("trellis").toString()));
    command.addAll(List.of(args));
    return run(command);
  }

  @AfterEach
  void downWhateverIsLeft() throws Exception {
    for (Path dir : stateDirs) {
      trellis("down", "--state-dir", dir.toString());
    }
  }

  @Test
  void upRunsTheDemoMeshWithSplitRetriesAndBreakerAndDownLeavesNoProcess(@TempDir Path state) throws Exception {
    stateDirs.add(state);
    Result up = trellis("up", "examples/demo/mesh.yaml", "--state-dir", state.toString(), "--zipkin", "none");
    assertThat(up.exit()).as(up.output()).isZero();
    assertThat(up.output()).contains("control-plane", "ready", "demo/web-flaky-0", "The mesh is up",
        "curl --interface 127.0.61.10 --socks5 127.0.61.1:15001 http://10.96.61.10:8080/");
    List<Long> pids = pids(state);
    assertThat(pids).hasSize(8);

    Result again = trellis("up", "examples/demo/mesh.yaml", "--state-dir", state.toString());
    assertThat(again.exit()).isEqualTo(1);
    assertThat(again.output()).contains("a run is already up", "trellis down");

    splitAndRetriesHideTheFlakyInstance(state);
    theBreakerRefusesConcurrentCallsWithUo();
    theGrpcGreeterAnswersThroughTheMesh();

    Result status = trellis("status", "--state-dir", state.toString());
    assertThat(status.exit()).as(status.output()).isZero();
    assertThat(status.output()).contains("demo/web-v1-0", "alive", "node-1", "node-2", "CDS=", "LDS=",
        "spiffe://cluster.local/ns/demo/sa/web", "spiffe://cluster.local/ns/demo/sa/client").doesNotContain("DEAD");

    Result dump = trellis("config-dump", "node-2", "--state-dir", state.toString());
    assertThat(dump.exit()).isZero();
    assertThat(dump.output()).contains("\"demo/web-flaky-0\"", "spiffe://cluster.local/ns/demo/sa/greeter");

    Result down = trellis("down", "--state-dir", state.toString());
    assertThat(down.exit()).as(down.output()).isZero();
    assertThat(down.output()).contains("Stopped 8 process(es)");
    assertThat(pids).allSatisfy(pid -> assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive)).as("pid " + pid)
        .isNotEqualTo(java.util.Optional.of(true)));
    assertThat(state.resolve("run.json")).doesNotExist();
    assertThat(trellis("down", "--state-dir", state.toString()).output()).contains("nothing to stop");
  }

  private static void splitAndRetriesHideTheFlakyInstance(Path state) throws Exception {
    Map<String, Integer> byWorkload = new HashMap<>();
    Pattern workload = Pattern.compile("\"workload\":\"([^\"]+)\"");
    for (int i = 0; i < 100; i++) {
      try (MeshHttpClient c = MeshHttpClient.connect(ENTRY, CLIENT, "10.96.61.10", 8080)) {
        MeshHttpClient.Response r = c.get("/");
        assertThat(r.status()).as("call %d: %s", i, r.body()).isEqualTo(200);
        Matcher m = workload.matcher(r.body());
        assertThat(m.find()).as(r.body()).isTrue();
        byWorkload.merge(m.group(1), 1, Integer::sum);
      }
    }
    // 80/20 between v1 (two instances) and v2: v2 gets about 20 of 100 (binomial, sd 4).
    assertThat(byWorkload.getOrDefault("web-v2-0", 0)).as(byWorkload.toString()).isBetween(5, 40);
    assertThat(byWorkload.getOrDefault("web-v1-0", 0) + byWorkload.getOrDefault("web-flaky-0", 0)).isBetween(60, 95);
    // The flaky instance failed some of those calls: the source proxy retried them (attempts > 1).
    String log = Files.readString(state.resolve("node-1.access.log"));
    assertThat(log).containsPattern("\"attempts\":[2-9]");
  }

  /**
   * README step 3 exactly: 5 concurrent calls to the slow service (2 s per answer; one connection, one request
   * waiting) give one answer, then the one that waited, and 3 refusals with UO that come back before either.
   */
  private static void theBreakerRefusesConcurrentCallsWithUo() throws Exception {
    Queue<MeshHttpClient.Response> inOrder = new ConcurrentLinkedQueue<>();
    try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Future<?>> calls = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        calls.add(pool.submit(() -> {
          try (MeshHttpClient c = MeshHttpClient.connect(ENTRY, CLIENT, "10.96.61.20", 8080)) {
            inOrder.add(c.get("/"));
          }
          return null;
        }));
      }
      for (Future<?> f : calls) {
        f.get(60, TimeUnit.SECONDS);
      }
    }
    List<MeshHttpClient.Response> responses = List.copyOf(inOrder);
    assertThat(responses).hasSize(5);
    assertThat(responses.subList(0, 3)).as("refused at once, before the slow service answered")
        .allSatisfy(r -> {
          assertThat(r.status()).isEqualTo(503);
          assertThat(r.header("x-trellis-response-flags")).isEqualTo("UO");
        });
    assertThat(responses.subList(3, 5)).as("the one served, then the one that waited for its connection")
        .allSatisfy(r -> assertThat(r.status()).as(r.body()).isEqualTo(200));
  }

  /**
   * An unmodified grpc-java client (the ITs' own copy of the wire-compatible greeter proto) calls the
   * demo greeter's VIP through node-1's HTTP CONNECT entry, from the client workload's address.
   */
  private static void theGrpcGreeterAnswersThroughTheMesh() throws Exception {
    // A target string (not an address) so the name resolver consults the proxy detector; the local
    // socket is bound to a loopback address, so nothing could ever leave the machine.
    ManagedChannel channel = NettyChannelBuilder.forTarget("dns:///10.96.61.30:50051").usePlaintext()
        .proxyDetector(target -> HttpConnectProxiedSocketAddress.newBuilder().setProxyAddress(ENTRY)
            .setTargetAddress((InetSocketAddress) target).build())
        .localSocketPicker(new NettyChannelBuilder.LocalSocketPicker() {
          @Override
          public java.net.SocketAddress createSocketAddress(java.net.SocketAddress remote, io.grpc.Attributes attrs) {
            return new InetSocketAddress(CLIENT, 0);
          }
        }).build();
    try {
      HelloReply reply = GreeterGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS)
          .sayHello(HelloRequest.newBuilder().setName("it").build());
      assertThat(reply.getMessage()).isEqualTo("Hello, it, from greeter-0");
      assertThat(reply.getWorkload()).isEqualTo("greeter-0");
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void aWorkloadThatDiesShowsItsLogAndUpStopsEverythingItStarted(@TempDir Path dir) throws Exception {
    Path state = dir.resolve("run");
    stateDirs.add(state);
    Path mesh = dir.resolve("mesh.yaml");
    Files.writeString(mesh, """
        nodes:
          - {name: node-1, address: 127.0.61.1, token: demo-node-1-token-change-me}
        workloads:
          - {name: broken, namespace: demo, node: node-1, address: 127.0.61.40, labels: {app: broken},
             run: {command: [sh, -c, "echo listening on $TRELLIS_WORKLOAD_ADDRESS:$TRELLIS_WORKLOAD_PORTS; exit 3"]}}
        services:
          - {name: broken, namespace: demo, selector: {app: broken}, ports: [{name: http, port: 8080}]}
        """);
    Result up = trellis("up", mesh.toString(), "--state-dir", state.toString(), "--zipkin", "none");
    assertThat(up.exit()).as(up.output()).isEqualTo(1);
    assertThat(up.output()).contains("error: demo/broken exited before it was ready",
        "| listening on 127.0.61.40:8080", "Fix: the workload must listen on $TRELLIS_WORKLOAD_ADDRESS",
        "Stopping the 3 process(es) this run started");
    assertThat(state.resolve("run.json")).doesNotExist();
    assertThat(state.resolve("node-1.token")).doesNotExist();
    assertThat(ProcessHandle.allProcesses().filter(p -> p.info().commandLine().orElse("").contains(state.toString())))
        .as("processes started for %s", state).isEmpty();
  }

  @Test
  void aWorkloadCommandThatCannotStartIsNamedAndNothingIsLeftRunning(@TempDir Path dir) throws Exception {
    Path state = dir.resolve("run");
    stateDirs.add(state);
    Path mesh = dir.resolve("mesh.yaml");
    Files.writeString(mesh, """
        nodes:
          - {name: node-1, address: 127.0.61.1, token: demo-node-1-token-change-me}
        workloads:
          - {name: missing, namespace: demo, node: node-1, address: 127.0.61.41, run: {command: [/nonexistent/server]}}
        """);
    Result up = trellis("up", mesh.toString(), "--state-dir", state.toString(), "--zipkin", "none");
    assertThat(up.exit()).as(up.output()).isEqualTo(1);
    assertThat(up.output()).contains("error: cannot start demo/missing (/nonexistent/server)",
        "check that the program exists", "Stopping the 2 process(es) this run started");
    assertThat(state.resolve("run.json")).doesNotExist();
    assertThat(ProcessHandle.allProcesses().filter(p -> p.info().commandLine().orElse("").contains(state.toString())))
        .as("processes started for %s", state).isEmpty();
  }

  @Test
  void theReadmeQuickStartRunsAsWritten() throws Exception {
    stateDirs.add(ROOT.resolve(".trellis/run"));
    String readme = Files.readString(ROOT.resolve("README.md"));
    Matcher block = Pattern.compile("<!-- quick-start -->\\s*```bash\\n(.*?)```\\s*<!-- /quick-start -->",
        Pattern.DOTALL).matcher(readme);
    assertThat(block.find()).as("README.md has a bash block between <!-- quick-start --> markers").isTrue();
    Result r = run(List.of("bash", "-e", "-c", block.group(1)));
    assertThat(r.exit()).as(r.output()).isZero();
    assertThat(r.output()).contains("The mesh is up", "node-1  delta", "spiffe://cluster.local/ns/demo/sa/web",
        "\"workload\":\"web-v2-0\",\"version\":\"v2\"", "x-trellis-response-flags: UO", "\"traceId\":",
        "\"localWorkloads\"", "Stopped 8 process(es)");
    assertThat(r.output()).as("step 4 shows an access log line with both identities")
        .containsPattern("\"sourcePrincipal\":\"spiffe://cluster.local/ns/demo/sa/client\",.*"
            + "\"destinationPrincipal\":\"spiffe://cluster.local/ns/demo/sa/[a-z]+\",\"mtls\":true");
    assertThat(r.output()).as("step 5: an h2c client reaches the HTTP/1.1-only demo service")
        .contains("h2c: HTTP/2 200");
    assertThat(ROOT.resolve(".trellis/run/run.json")).doesNotExist();
  }

  static List<Long> pids(Path state) throws IOException {
    List<Long> pids = new ArrayList<>();
    Matcher m = Pattern.compile("\"pid\": (\\d+)").matcher(Files.readString(state.resolve("run.json")));
    while (m.find()) {
      pids.add(Long.parseLong(m.group(1)));
    }
    return pids;
  }
}
