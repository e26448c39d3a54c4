package dev.trellis.it;

import static dev.trellis.xds.resource.ResourceType.ROUTE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.Message;
import dev.trellis.controlplane.server.ControlPlane;
import dev.trellis.controlplane.server.ControlPlaneOptions;
import dev.trellis.controlplane.translate.Translator;
import dev.trellis.demo.grpc.GreeterGrpc;
import dev.trellis.demo.grpc.HelloReply;
import dev.trellis.demo.grpc.HelloRequest;
import dev.trellis.xds.cache.Snapshot;
import dev.trellis.xds.resource.ClientKind;
import dev.trellis.xds.resource.ResourceType;
import dev.trellis.xds.resource.XdsResource;
import dev.trellis.xds.server.ClientStatus;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.RouteMatch;
import io.envoyproxy.envoy.type.matcher.v3.RegexMatcher;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Trellis's control plane against a real xDS client that is not ours: grpc-java's proxyless xDS
 * support (grpc-xds), bootstrapped at our plaintext port, calling Greeter backends that listen on
 * the workload addresses of the mesh file (loopback addresses 127.0.x.y).
 */
class GrpcXdsInteropIT {

  static final String TARGET = "xds:///greeter.demo.svc.cluster.local:50051";

  static Path dir;
  static Path meshFile;
  static ControlPlane cp;
  static ManagedChannel channel;
  static GreeterGrpc.GreeterBlockingStub greeter;
  static int port;
  static final Map<String, GreeterBackend> backends = new HashMap<>();

  @BeforeAll
  static void start() throws Exception {
    dir = Files.createTempDirectory("trellis-it");
    port = startBackends();
    meshFile = dir.resolve("mesh.yaml");
    Files.writeString(meshFile, mesh(80, 20));
    cp = new ControlPlane(ControlPlaneOptions.local(meshFile, dir.resolve("state")).withPorts(0, 0, 0)
        .withDebounce(Duration.ZERO, Duration.ZERO), Clock.systemUTC()).start();
    // grpc-xds reads its bootstrap once per JVM; failsafe runs this class in its own JVM.
    System.setProperty("io.grpc.xds.bootstrapConfig", """
        {"xds_servers": [{"server_uri": "127.0.0.1:%d", "channel_creds": [{"type": "insecure"}],
                          "server_features": ["xds_v3"]}],
         "node": {"id": "proxyless-greeter-client", "metadata": {"trellis.role": "proxyless-grpc"}}}
        """.formatted(cp.xdsPort()));
    channel = Grpc.newChannelBuilder(TARGET, InsecureChannelCredentials.create()).build();
    greeter = GreeterGrpc.newBlockingStub(channel);
  }

  /** Three backends on one port number at three workload addresses; retried if the number is taken on one of them. */
  private static int startBackends() throws Exception {
    for (int attempt = 0; attempt < 20; attempt++) {
      int candidate;
      try (ServerSocket s = new ServerSocket(0, 50, java.net.InetAddress.getByName("127.0.1.11"))) {
        candidate = s.getLocalPort();
      }
      try {
        backends.put("greeter-v1-0", new GreeterBackend("greeter-v1-0", "127.0.1.11", candidate));
        backends.put("greeter-v1-1", new GreeterBackend("greeter-v1-1", "127.0.1.12", candidate));
        backends.put("greeter-v2-0", new GreeterBackend("greeter-v2-0", "127.0.2.12", candidate));
        return candidate;
      } catch (IOException taken) {
        for (GreeterBackend b : backends.values()) {
          b.close();
        }
        backends.clear();
      }
    }
    throw new IllegalStateException("no common free port for the backends");
  }

  static String mesh(int v1Weight, int v2Weight) {
    return mesh(v1Weight, v2Weight, "127.0.2.12");
  }

  static String mesh(int v1Weight, int v2Weight, String v2Address) {
    return """
        trustDomain: cluster.local
        nodes:
          - {name: node-1, address: 127.0.1.1, token: it-node-1-token-0123456789}
          - {name: node-2, address: 127.0.2.1, token: it-node-2-token-0123456789}
        workloads:
          - {name: greeter-v1-0, namespace: demo, serviceAccount: greeter, node: node-1, address: 127.0.1.11, labels: {app: greeter, version: v1}}
          - {name: greeter-v1-1, namespace: demo, serviceAccount: greeter, node: node-1, address: 127.0.1.12, labels: {app: greeter, version: v1}}
          - {name: greeter-v2-0, namespace: demo, serviceAccount: greeter, node: node-2, address: %4$s, labels: {app: greeter, version: v2}}
        services:
          - {name: greeter, namespace: demo, vip: 10.96.0.10, selector: {app: greeter}, ports: [{name: grpc, port: 50051, targetPort: %1$d}]}
          - {name: greeter-v1, namespace: demo, selector: {app: greeter, version: v1}, ports: [{name: grpc, port: 50051, targetPort: %1$d}]}
          - {name: greeter-v2, namespace: demo, selector: {app: greeter, version: v2}, ports: [{name: grpc, port: 50051, targetPort: %1$d}]}
          - {name: greeter-round-robin, namespace: demo, selector: {app: greeter}, ports: [{name: grpc, port: 50051, targetPort: %1$d}]}
          - {name: greeter-least-request, namespace: demo, selector: {app: greeter}, ports: [{name: grpc, port: 50051, targetPort: %1$d}]}
          - {name: greeter-ring-hash, namespace: demo, selector: {app: greeter}, ports: [{name: grpc, port: 50051, targetPort: %1$d}]}
          - {name: greeter-maglev, namespace: demo, selector: {app: greeter}, ports: [{name: grpc, port: 50051, targetPort: %1$d}]}
          - {name: greeter-random, namespace: demo, selector: {app: greeter}, ports: [{name: grpc, port: 50051, targetPort: %1$d}]}
          - {name: greeter-maglev-by-caller, namespace: demo, selector: {app: greeter}, ports: [{name: grpc, port: 50051, targetPort: %1$d}]}
        policies:
          - {name: round-robin, namespace: demo, service: greeter-round-robin, loadBalancer: {algorithm: round-robin}}
          - {name: least-request, namespace: demo, service: greeter-least-request, loadBalancer: {algorithm: least-request}}
          - {name: ring-hash, namespace: demo, service: greeter-ring-hash, loadBalancer: {algorithm: ring-hash, hashHeader: x-user}}
          - {name: maglev, namespace: demo, service: greeter-maglev, loadBalancer: {algorithm: maglev, hashHeader: x-user}}
          - {name: random, namespace: demo, service: greeter-random, loadBalancer: {algorithm: random}}
          - {name: maglev-by-caller, namespace: demo, service: greeter-maglev-by-caller, loadBalancer: {algorithm: maglev}}
        routes:
          - name: greeter-canary
            namespace: demo
            service: greeter
            rules:
              - backends:
                  - {service: greeter-v1, weight: %2$d}
                  - {service: greeter-v2, weight: %3$d}
                retry: {attempts: 2, on: [unavailable], backoff: {base: 5ms, max: 20ms}}
        """.formatted(port, v1Weight, v2Weight, v2Address);
  }

  @BeforeEach
  void baseline() throws Exception {
    backends.values().forEach(b -> {
      b.unavailable.set(false);
      b.calls.set(0);
    });
    Files.writeString(meshFile, mesh(80, 20));
    cp.reloadNow();
    cp.store().publish(Translator.translate(cp.mesh(), cp.ca().trustBundle()));
    await().atMost(Duration.ofSeconds(20)).until(() -> call() != null);
  }

  @AfterAll
  static void stop() throws Exception {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    for (GreeterBackend b : backends.values()) {
      b.close();
    }
    if (cp != null) {
      cp.close();
    }
  }

  private static String call() {
    try {
      HelloReply r = greeter.withDeadlineAfter(5, TimeUnit.SECONDS).sayHello(HelloRequest.newBuilder().setName("it").build());
      return r.getWorkload();
    } catch (RuntimeException e) {
      return null;
    }
  }

  @Test
  void aClientDialingTheServiceNameReachesTheMeshEndpoints() {
    String backend = call();
    assertThat(backend).isIn("greeter-v1-0", "greeter-v1-1", "greeter-v2-0");
    assertThat(cp.ads().registry().clients(Duration.ofSeconds(2))).anySatisfy(c -> {
      assertThat(c.clientId()).isEqualTo("proxyless-greeter-client");
      assertThat(c.variant()).isEqualTo("sotw");
      assertThat(c.types()).extracting(ClientStatus.TypeStatus::type).contains("LDS", "RDS", "CDS", "EDS");
      assertThat(c.types()).allSatisfy(t -> assertThat(t.nacks()).as("NACKs of %s: %s", t.type(), t.lastNackError()).isZero());
    });
  }

  /**
   * Every load balancer a traffic policy offers works for proxyless gRPC: grpc-java accepts the cluster it is served (no
   * NACK) and calls succeed; where it rejects Envoy's choice (Maglev, random) it gets the nearest one it implements,
   * noted on {@code /debug/clients}; a hash on a header, or on the caller (its channel, for gRPC), stays sticky.
   */
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"round-robin", "least-request", "ring-hash", "maglev", "random", "maglev-by-caller"})
  void everyLoadBalancerOfATrafficPolicyResolvesForProxylessGrpc(String algorithm) throws Exception {
    String service = "greeter-" + algorithm + ".demo.svc.cluster.local";
    String cluster = "outbound|50051||" + service;
    ManagedChannel ch = Grpc.newChannelBuilder("xds:///" + service + ":50051", InsecureChannelCredentials.create())
        .build();
    try {
      Metadata alice = new Metadata();
      alice.put(Metadata.Key.of("x-user", Metadata.ASCII_STRING_MARSHALLER), "alice");
      GreeterGrpc.GreeterBlockingStub stub = GreeterGrpc.newBlockingStub(ch)
          .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(alice));
      await().atMost(Duration.ofSeconds(20)).ignoreExceptions().until(() -> stub.withDeadlineAfter(2, TimeUnit.SECONDS)
          .sayHello(HelloRequest.newBuilder().setName("it").build()) != null);
      Set<String> reached = new HashSet<>();
      for (int i = 0; i < 30; i++) {
        reached.add(stub.withDeadlineAfter(5, TimeUnit.SECONDS).sayHello(HelloRequest.newBuilder().setName("it").build())
            .getWorkload());
      }
      if (algorithm.equals("ring-hash") || algorithm.startsWith("maglev")) {
        // On the x-user header, or (no hashHeader: Envoy hashes the caller's IP) on the gRPC channel.
        assertThat(reached).as("one user's calls stay on one backend").hasSize(1);
      }
      // grpc-java keeps one xDS client, so one ADS stream, per channel target.
      ClientStatus client = cp.ads().registry().clients(Duration.ofSeconds(2)).stream()
          .filter(c -> c.types().stream().anyMatch(t -> t.type().equals("CDS") && t.someNames().contains(cluster)))
          .findFirst().orElseThrow();
      assertThat(client.kind()).isEqualTo("proxyless");
      assertThat(client.types()).allSatisfy(t -> assertThat(t.nacks()).as("NACKs of %s: %s", t.type(), t.lastNackError())
          .isZero());
      if (algorithm.equals("maglev-by-caller")) {
        assertThat(client.notes()).anySatisfy(n -> assertThat(n).startsWith("RDS " + service + ":50051: hash on "
            + "io.grpc.channel_id instead of the source IP"));
      }
      if (algorithm.startsWith("maglev")) {
        assertThat(client.notes()).anySatisfy(n -> assertThat(n).startsWith("CDS " + cluster + ": RING_HASH instead of MAGLEV"));
      } else if (algorithm.equals("random")) {
        assertThat(client.notes()).anySatisfy(n -> assertThat(n).startsWith("CDS " + cluster + ": ROUND_ROBIN instead of RANDOM"));
      } else {
        assertThat(client.notes()).noneSatisfy(n -> assertThat(n).contains(cluster + ":"));
      }
    } finally {
      ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void theEightyTwentySplitHoldsOverAThousandCalls() {
    int n = 1000;
    int v1 = 0;
    int failed = 0;
    for (int i = 0; i < n; i++) {
      String b = call();
      if (b == null) {
        failed++;
      } else if (b.startsWith("greeter-v1")) {
        v1++;
      }
    }
    // Binomial(1000, 0.8): mean 800, standard deviation 12.6; 4.5 sigma either side.
    assertThat(failed).isZero();
    assertThat(v1).isBetween(743, 857);
  }

  @Test
  void editingTheMeshFileReachesTheRunningClient() throws Exception {
    Files.writeString(meshFile, mesh(0, 100));
    assertThat(cp.reloadNow()).isTrue();
    await().atMost(Duration.ofSeconds(20)).until(() -> {
      for (int i = 0; i < 20; i++) {
        if (!"greeter-v2-0".equals(call())) {
          return false;
        }
      }
      return true;
    });
  }

  @Test
  void movingAnEndpointInTheMeshFileReachesTheRunningClient() throws Exception {
    try (GreeterBackend moved = new GreeterBackend("greeter-v2-moved", "127.0.2.13", port)) {
      Files.writeString(meshFile, mesh(0, 100, "127.0.2.13"));
      assertThat(cp.reloadNow()).isTrue();
      await().atMost(Duration.ofSeconds(20)).until(() -> {
        for (int i = 0; i < 20; i++) {
          if (!"greeter-v2-moved".equals(call())) {
            return false;
          }
        }
        return true;
      });
      assertThat(backends.get("greeter-v2-0").calls.get()).as("the old address gets nothing once moved").isLessThan(
          moved.calls.get());
    }
  }

  @Test
  void retriesOnUnavailableHideAFlakyInstance() throws Exception {
    Files.writeString(meshFile, mesh(100, 0));
    cp.reloadNow();
    await().atMost(Duration.ofSeconds(20)).until(() -> {
      for (int i = 0; i < 10; i++) {
        String b = call();
        if (b == null || b.equals("greeter-v2-0")) {
          return false;
        }
      }
      return true;
    });
    GreeterBackend flaky = backends.get("greeter-v1-0");
    flaky.unavailable.set(true);
    flaky.calls.set(0);
    int failures = 0;
    for (int i = 0; i < 200; i++) {
      String b = call();
      if (b == null) {
        failures++;
      } else {
        assertThat(b).isEqualTo("greeter-v1-1");
      }
    }
    assertThat(flaky.calls.get()).as("the flaky instance was tried").isGreaterThan(20);
    assertThat(failures).isZero();
  }

  @Test
  void aResourceTheClientRejectsDoesNotBreakItsWorkingConfig() {
    String name = "greeter.demo.svc.cluster.local:50051";
    Snapshot current = cp.store().current();
    RouteConfiguration good = unpack(current.view(ROUTE, null).get(name));
    RouteConfiguration bad = good.toBuilder().setVirtualHosts(0, good.getVirtualHosts(0).toBuilder()
        .setRoutes(0, good.getVirtualHosts(0).getRoutes(0).toBuilder()
            .setMatch(RouteMatch.newBuilder().setSafeRegex(RegexMatcher.newBuilder().setRegex("(unclosed")))))
        .build();
    cp.store().publish(copyWith(current, ROUTE, bad));
    await().atMost(Duration.ofSeconds(20)).until(() -> cp.ads().registry().clients(Duration.ofSeconds(2)).stream()
        .flatMap(c -> c.types().stream()).anyMatch(t -> t.type().equals("RDS") && t.nacks() > 0));
    ClientStatus.TypeStatus rds = cp.ads().registry().clients(Duration.ofSeconds(2)).stream()
        .flatMap(c -> c.types().stream()).filter(t -> t.type().equals("RDS")).findFirst().orElseThrow();
    assertThat(rds.lastNackError()).isNotBlank();
    for (int i = 0; i < 50; i++) {
      assertThat(call()).as("calls keep working on the last good config").isNotNull();
    }
  }

  @SuppressWarnings("unchecked")
  private static <T extends Message> T unpack(XdsResource r) {
    try {
      return (T) r.type().unpack(r.body());
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  /** The snapshot with {@code replacement} in place of the resource of the same name; variants kept. */
  private static Snapshot copyWith(Snapshot s, ResourceType type, Message replacement) {
    Snapshot.Builder b = Snapshot.builder();
    for (ResourceType t : ResourceType.values()) {
      for (XdsResource r : s.all(t).values()) {
        Message m = t == type && r.name().equals(type.nameOf(replacement)) ? replacement : unpack(r);
        if (s.nodeScoped(t)) {
          b.addForNode(t, ((dev.trellis.mesh.v1.Workload) m).getNode(), m);
        } else {
          b.add(t, m);
        }
      }
      for (ClientKind kind : ClientKind.values()) {
        s.variants(t, kind).values().forEach(v -> b.addVariant(kind, v));
      }
    }
    return b.build();
  }
}
