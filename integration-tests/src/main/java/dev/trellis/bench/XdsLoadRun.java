package dev.trellis.bench;

import dev.trellis.ca.client.BearerTokenCredentials;
import dev.trellis.controlplane.ControlPlaneMain;
import dev.trellis.xds.resource.ResourceType;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The control plane under load, as the issue asks: {@code --clients} simulated ADS clients (half
 * delta, half SotW, each on its own connection, authenticated as node proxies) over a mesh of
 * {@code --services} services x {@code --endpoints} endpoints. The control plane runs as its own
 * JVM with {@code -Xmx<--heap>}; this process only plays the clients (both share the machine's cores).
 *
 * <p>Prints: initial full sync (all clients hold every resource), then for each of {@code --changes}
 * one-endpoint changes written to the mesh file, the time from the write until each client ACKed the
 * new endpoints (p50/p99 over all clients and changes), and the control plane's CPU time and heap.
 * {@code --warmup-changes} (default 40) changes run first and are reported apart: their CPU is mostly the
 * JIT compiling the change path once, which a long-running control plane pays once. Clients subscribe to
 * listeners as a node proxy does ({@code trellis-outbound} only); {@code --listeners all} subscribes to
 * every listener (proxyless gRPC's API listeners too), as this run did before. The control plane runs with its
 * shipped JVM defaults ({@code --jvm-defaults}, default {@code control-plane/src/main/jvm/control-plane.options};
 * {@code none}: the JVM's own), then {@code --cp-java-options}.
 *
 * <pre>java -cp integration-tests/target/benchmarks.jar dev.trellis.bench.XdsLoadRun --clients 400 --services 1000</pre>
 */
public final class XdsLoadRun {

  public static void main(String[] args) throws Exception {
    Map<String, String> opts = options(args);
    int clients = Integer.parseInt(opts.getOrDefault("clients", "400"));
    int services = Integer.parseInt(opts.getOrDefault("services", "1000"));
    int endpoints = Integer.parseInt(opts.getOrDefault("endpoints", "10"));
    int nodes = Integer.parseInt(opts.getOrDefault("nodes", "100"));
    int changes = Integer.parseInt(opts.getOrDefault("changes", "20"));
    String heap = opts.getOrDefault("heap", "1g");
    String poll = opts.getOrDefault("poll-interval", "100ms");
    String debounce = opts.getOrDefault("debounce", "100ms");
    int warmup = Integer.parseInt(opts.getOrDefault("warmup-changes", "40"));
    String listeners = switch (opts.getOrDefault("listeners", "node-proxy")) {
      case "node-proxy" -> "trellis-outbound"; // what ProxyState watches
      case "all" -> "*";
      default -> throw new IllegalArgumentException("--listeners: '" + opts.get("listeners")
          + "' (expected: node-proxy, the outbound listener only as a node proxy asks; or all, every listener)");
    };

    Path dir = Files.createTempDirectory("trellis-xds-load");
    MeshGenerator gen = new MeshGenerator(services, endpoints, nodes);
    Path mesh = dir.resolve("mesh.yaml");
    Map<String, String> overrides = new HashMap<>();
    Files.writeString(mesh, gen.yaml(overrides));
    System.out.printf("mesh: %d services x %d endpoints on %d nodes (%d KiB of YAML); %d clients (%d delta, %d SotW), "
            + "listeners subscribed: %s%n", services, endpoints, nodes, Files.size(mesh) / 1024, clients, clients / 2,
        clients - clients / 2, listeners.equals("*") ? "all (--listeners all)" : listeners + ", as a node proxy");

    int xds = freePort();
    int tls = freePort();
    int admin = freePort();
    String jar = Path.of(XdsLoadRun.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
    List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx" + heap, "-XX:+UseG1GC", "--enable-native-access=ALL-UNNAMED"));
    // The control plane's shipped JVM defaults, as ./trellis control-plane and its image run it; --cp-java-options win.
    String defaults = opts.getOrDefault("jvm-defaults", "control-plane/src/main/jvm/control-plane.options");
    if (!defaults.equals("none")) {
      if (!Files.isRegularFile(Path.of(defaults))) {
        throw new IllegalArgumentException("--jvm-defaults: no file " + Path.of(defaults).toAbsolutePath()
            + " (run from the checkout's root, name the file, or give 'none' for the JVM's own defaults)");
      }
      command.add("@" + Path.of(defaults).toAbsolutePath());
    }
    String extra = opts.getOrDefault("cp-java-options", "");
    if (!extra.isBlank()) {
      command.addAll(List.of(extra.strip().split("\\s+")));
    }
    command.addAll(List.of("-cp", jar, ControlPlaneMain.class.getName(), "control-plane",
        "--mesh", mesh.toString(), "--state-dir", dir.resolve("state").toString(), "--xds-port", "" + xds,
        "--xds-tls-port", "" + tls, "--admin-port", "" + admin, "--poll-interval", poll, "--debounce", debounce));
    ProcessBuilder builder = new ProcessBuilder(command);
    builder.environment().put("TRELLIS_LOG_LEVEL", opts.getOrDefault("cp-log-level", "warn"));
    Process cp = builder
        .redirectErrorStream(true).redirectOutput(dir.resolve("control-plane.log").toFile()).start();
    HttpClient http = HttpClient.newHttpClient();
    List<ManagedChannel> channels = new ArrayList<>();
    List<LoadClient> load = new ArrayList<>();
    try {
      long startWait = System.nanoTime();
      while (!ready(http, admin)) {
        if (!cp.isAlive() || System.nanoTime() - startWait > TimeUnit.SECONDS.toNanos(120)) {
          throw new IllegalStateException("control plane did not start; see " + dir.resolve("control-plane.log"));
        }
        TimeUnit.MILLISECONDS.sleep(50); // a benchmark runner polling its child process, not a test
      }
      System.out.printf("control plane ready in %d ms (-Xmx%s, JVM defaults %s%s), log %s%n",
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startWait), heap, defaults,
          extra.isBlank() ? "" : ", then " + extra.strip(), dir.resolve("control-plane.log"));
      Map<String, Double> before = metrics(http, admin);

      long t0 = System.nanoTime();
      for (int i = 0; i < clients; i++) {
        int node = i % nodes;
        Map<ResourceType, Integer> expected = new EnumMap<>(ResourceType.class);
        expected.put(ResourceType.CLUSTER, services + 1);
        expected.put(ResourceType.ENDPOINT, services);
        expected.put(ResourceType.LISTENER, listeners.equals("*") ? services + 1 : 1);
        expected.put(ResourceType.ROUTE, services);
        expected.put(ResourceType.WORKLOAD, gen.workloadsOn(node));
        ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", xds).usePlaintext()
            .maxInboundMessageSize(64 * 1024 * 1024).build();
        channels.add(ch);
        LoadClient c = new LoadClient(ch, BearerTokenCredentials.of(MeshGenerator.nodeToken(node)),
            MeshGenerator.nodeName(node), i % 2 == 0, listeners, expected);
        load.add(c);
        c.start();
      }
      for (LoadClient c : load) {
        if (!c.synced.await(300, TimeUnit.SECONDS) || c.failure != null) {
          throw new IllegalStateException("a client did not sync: " + c.failure);
        }
      }
      long syncMax = load.stream().mapToLong(c -> c.syncedAtNanos - t0).max().orElseThrow();
      long syncMedian = percentile(load.stream().mapToLong(c -> c.syncedAtNanos - t0).toArray(), 50);
      Map<String, Double> afterSync = metrics(http, admin);
      System.out.printf("initial sync: all %d clients complete in %d ms (median client %d ms); control plane CPU %.1f s, "
              + "heap used %d MiB%n", clients, ms(syncMax), ms(syncMedian),
          afterSync.get("process_cpu_seconds_total") - before.get("process_cpu_seconds_total"),
          (long) (afterSync.get("jvm_memory_heap_used_bytes") / (1 << 20)));
      StringBuilder bytes = new StringBuilder();
      for (ResourceType t : LoadClient.TYPES) {
        long[] perClient = load.stream().mapToLong(c -> c.syncBytes.getOrDefault(t, 0L)).toArray();
        bytes.append(", ").append(t.shortName()).append(' ').append(percentile(perClient, 50) / 1000).append(" kB");
      }
      long[] totals = load.stream().mapToLong(c -> c.syncBytes.values().stream().mapToLong(Long::longValue).sum())
          .toArray();
      System.out.printf("bytes per client until synced (median client; protobuf encoding, no gRPC framing): %d kB%s%n",
          percentile(totals, 50) / 1000, bytes);

      List<Long> latencies = new ArrayList<>();
      List<Long> pushLatencies = new ArrayList<>();
      double cpuBefore = afterSync.get("process_cpu_seconds_total");
      double cpuLast = cpuBefore;
      Map<String, Long> threadsBefore = threadCpu(cp.pid());
      for (int c = 0; c < warmup + changes; c++) {
        if (c == warmup && warmup > 0) {
          System.out.printf("warm-up: %d one-endpoint changes, control plane CPU %.2f s per change (the JIT compiling the "
              + "change path; not counted below)%n", warmup, (cpuLast - cpuBefore) / warmup);
          cpuBefore = cpuLast;
          threadsBefore = threadCpu(cp.pid());
        }
        int service = (c * 37) % services;
        String cluster = MeshGenerator.cluster(service);
        CountDownLatch done = new CountDownLatch(clients);
        load.forEach(l -> l.watch(cluster, done));
        overrides.put(gen.workloadName(service, 0), "10.250." + (c / 250) + "." + (c % 250 + 1));
        String yaml = gen.yaml(overrides);
        long written = System.nanoTime();
        Files.writeString(mesh, yaml);
        if (!done.await(60, TimeUnit.SECONDS)) {
          throw new IllegalStateException("change " + c + ": only " + (clients - done.getCount()) + " clients ACKed");
        }
        Map<String, Double> now = metrics(http, admin);
        long published = (long) (now.get("trellis_config_last_push_timestamp_seconds") * 1000);
        double cpu = now.get("process_cpu_seconds_total");
        double cpuThis = cpu - cpuLast;
        cpuLast = cpu;
        if (c < warmup) {
          continue;
        }
        for (LoadClient l : load) {
          pushLatencies.add(TimeUnit.MILLISECONDS.toNanos(l.watchAckEpochMillis() - published));
        }
        long[] these = load.stream().mapToLong(l -> l.watchAckNanos() - written).toArray();
        for (long x : these) {
          latencies.add(x);
        }
        if (opts.containsKey("per-change")) {
          System.out.printf("  change %2d (%s): median %d ms, last client %d ms, control plane CPU %d ms%n", c, cluster,
              ms(percentile(these, 50)), ms(percentile(these, 100)), Math.round(cpuThis * 1000));
        }
      }
      Map<String, Double> end = metrics(http, admin);
      if (opts.containsKey("thread-cpu")) {
        Map<String, Long> threadsAfter = threadCpu(cp.pid());
        Map<String, Long> since = threadsBefore;
        StringBuilder b = new StringBuilder();
        threadsAfter.entrySet().stream()
            .map(e -> Map.entry(e.getKey(), e.getValue() - since.getOrDefault(e.getKey(), 0L)))
            .filter(e -> e.getValue() > 0).sorted(Map.Entry.<String, Long>comparingByValue().reversed())
            .forEach(e -> b.append(String.format(", %s %d ms", e.getKey(), e.getValue() * 10 / Math.max(1, changes))));
        System.out.printf("control plane CPU per change by thread (Linux /proc, 10 ms ticks, threads of a kind summed)%s%n",
            b);
      }
      long[] lat = latencies.stream().mapToLong(Long::longValue).toArray();
      System.out.printf("one-endpoint change -> every client ACKed (%d changes x %d clients, measured from the file write,"
              + " including file watch + 25 ms settle (poll fallback %s), reparse and %s debounce): p50 %d ms, p90 %d ms, "
              + "p99 %d ms, max %d ms%n",
          changes, clients, poll, debounce, ms(percentile(lat, 50)), ms(percentile(lat, 90)), ms(percentile(lat, 99)),
          ms(percentile(lat, 100)));
      long[] push = pushLatencies.stream().mapToLong(Long::longValue).toArray();
      System.out.printf("push latency, snapshot published -> every client ACKed (same changes): p50 %d ms, p90 %d ms, "
          + "p99 %d ms, max %d ms%n", ms(percentile(push, 50)), ms(percentile(push, 90)), ms(percentile(push, 99)),
          ms(percentile(push, 100)));
      System.out.printf("control plane: CPU %.2f s per change (reparse, translate, push); heap used %d MiB "
              + "(committed %d MiB, max %d MiB); %d clients connected; NACKs %d%n",
          (end.get("process_cpu_seconds_total") - cpuBefore) / Math.max(1, changes),
          (long) (end.get("jvm_memory_heap_used_bytes") / (1 << 20)),
          (long) (end.get("jvm_memory_heap_committed_bytes") / (1 << 20)),
          (long) (end.get("jvm_memory_heap_max_bytes") / (1 << 20)), end.get("trellis_xds_connected_clients").longValue(),
          end.entrySet().stream().filter(e -> e.getKey().startsWith("trellis_xds_nacks_total"))
              .mapToLong(e -> e.getValue().longValue()).sum());
    } finally {
      load.forEach(LoadClient::close);
      channels.forEach(ManagedChannel::shutdownNow);
      cp.destroy();
      cp.waitFor(10, TimeUnit.SECONDS);
    }
  }

  /**
   * CPU ticks (1/100 s: utime + stime) of each thread of process {@code pid} by name, digits stripped so a kind of
   * thread (GC workers, compiler threads, event loops) sums up; empty where /proc is not there.
   */
  private static Map<String, Long> threadCpu(long pid) {
    Map<String, Long> byName = new HashMap<>();
    try (var tasks = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
      for (Path t : (Iterable<Path>) tasks::iterator) {
        try {
          String stat = Files.readString(t.resolve("stat"));
          int close = stat.lastIndexOf(')');
          String name = stat.substring(stat.indexOf('(') + 1, close).replaceAll("[0-9]+", "#");
          String[] f = stat.substring(close + 2).split(" ");
          byName.merge(name, Long.parseLong(f[11]) + Long.parseLong(f[12]), Long::sum);
        } catch (IOException | RuntimeException e) {
          // the thread ended meanwhile
        }
      }
    } catch (IOException e) {
      return byName;
    }
    return byName;
  }

  private static long ms(long nanos) {
    return TimeUnit.NANOSECONDS.toMillis(nanos);
  }

  private static long percentile(long[] values, int p) {
    long[] sorted = values.clone();
    Arrays.sort(sorted);
    int index = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
  }

  private static boolean ready(HttpClient http, int admin) {
    try {
      return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin + "/healthz/ready"))
          .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString()).statusCode() == 200;
    } catch (IOException | InterruptedException e) {
      return false;
    }
  }

  private static final Pattern METRIC = Pattern.compile("^([a-z_]+(?:\\{[^}]*\\})?) ([0-9.eE+-]+)$", Pattern.MULTILINE);

  private static Map<String, Double> metrics(HttpClient http, int admin) throws Exception {
    String body = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString()).body();
    Map<String, Double> m = new HashMap<>();
    Matcher matcher = METRIC.matcher(body);
    while (matcher.find()) {
      m.put(matcher.group(1), Double.parseDouble(matcher.group(2)));
    }
    return m;
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  private static Map<String, String> options(String[] args) {
    Map<String, String> m = new HashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      if (!args[i].startsWith("--")) {
        throw new IllegalArgumentException("expected --option value pairs, got '" + args[i] + "'");
      }
      m.put(args[i].substring(2), args[i + 1]);
    }
    return m;
  }
}
