package dev.trellis.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.trellis.cni.CniPlugin;
import dev.trellis.controlplane.ControlPlaneMain;
import dev.trellis.proxy.NodeAgentMain;
import dev.trellis.proxy.NodeProxyMain;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The redirection benchmark, a main class ({@code scripts/bench-redirect} runs it with this module's test class path;
 * no test run does): a pod-to-pod
 * HTTP call between two "nodes" ({@link NamespaceCluster}) measured side by side in one run — direct (no mesh),
 * through both node proxies with nftables TPROXY, and with eBPF — with h2load in the client pod against nginx
 * in the server pod; plus CNI ADD latency against the real node agent for each redirection. Prints two Markdown
 * tables on stdout, progress on stderr; stops with an error if a variant did not work (figures are reported, not
 * judged). Settings: {@code -Dbench.variants="direct nftables ebpf"}, {@code -Dbench.seconds=10},
 * {@code -Dbench.rounds=2}, {@code -Dbench.cniRuns=100}, {@code -Dbench.cniProcessRuns=20}, {@code -Dbench.cniPlugin=}
 * the packaged plugin.
 */
public final class RedirectBenchmark {

  static final String TOKEN_1 = "bench-redirect-node-1-token";
  static final String TOKEN_2 = "bench-redirect-node-2-token";
  static final int SECONDS = Integer.getInteger("bench.seconds", 10);
  static final int CNI_RUNS = Integer.getInteger("bench.cniRuns", 100);
  static final int CNI_PROCESS_RUNS = Integer.getInteger("bench.cniProcessRuns", 20);

  NamespaceCluster cluster;
  NamespaceCluster.Pod client;
  NamespaceCluster.Pod server;
  NamespaceCluster.Pod spare;
  final List<String> rows = new ArrayList<>();
  final List<String> cniRows = new ArrayList<>();

  public static void main(String[] args) throws Exception {
    new RedirectBenchmark().podToPodDirectVersusNftablesVersusEbpf();
    System.exit(0); // the in-process CNI client's and Awaitility's threads need not be waited for
  }

  void podToPodDirectVersusNftablesVersusEbpf() throws Exception {
    List<String> variants = Arrays.asList(System.getProperty("bench.variants", "direct nftables ebpf").split(" "));
    int rounds = Integer.getInteger("bench.rounds", 2);
    try (NamespaceCluster c = new NamespaceCluster()) {
      cluster = c;
      build();
      // Rounds interleave the variants (the second in reverse order), so neither redirection always runs on
      // the freshest or the most warmed-up proxies.
      for (int round = 1; round <= rounds; round++) {
        List<String> order = new ArrayList<>(variants);
        if (round % 2 == 0) {
          Collections.reverse(order);
        }
        for (String v : order) {
          if (v.equals("direct")) {
            measure("direct", "http://10.12.1.2:8080/");
          } else {
            enroll(v, round);
            measure(v, "http://10.96.0.10/");
            if (round == 1) {
              cniLatency(v);
            }
            release(v, round);
          }
        }
      }
    }
    System.out.println("| variant | conns | req/s | mean µs | p50 µs | p99 µs | proxies CPU µs/req |");
    System.out.println("|---|---|---|---|---|---|---|");
    rows.forEach(System.out::println);
    System.out.println("\n| redirection | CNI ADD via agent p50 / p99 ms | CNI ADD, packaged plugin per call p50 / p99 ms |");
    System.out.println("|---|---|---|");
    cniRows.forEach(System.out::println);
  }

  void build() throws Exception {
    cluster.node("n1");
    cluster.node("n2");
    cluster.link("n1", "10.10.0.1", "n2", "10.10.0.2");
    cluster.route("n1", "10.12.0.0/16", "10.10.0.2");
    cluster.route("n2", "10.11.0.0/16", "10.10.0.1");
    client = cluster.pod("n1", "client", "10.11.1.2", "10.11.1.1");
    spare = cluster.pod("n1", "spare", "10.11.2.2", "10.11.2.1");
    server = cluster.pod("n2", "server", "10.12.1.2", "10.12.1.1");
    Path dir = cluster.dir;
    Files.writeString(dir.resolve("mesh.yaml"), """
        nodes:
          - {name: node-1, address: 10.10.0.1, token: %s}
          - {name: node-2, address: 10.10.0.2, token: %s}
        workloads:
          - {name: client, namespace: demo, serviceAccount: client, node: node-1, address: 10.11.1.2}
          - {name: spare, namespace: demo, serviceAccount: client, node: node-1, address: 10.11.2.2}
          - {name: server, namespace: demo, serviceAccount: web, node: node-2, address: 10.12.1.2, labels: {app: web}}
        services:
          - {name: web, namespace: demo, vip: 10.96.0.10, selector: {app: web}, ports: [{name: http, port: 80, targetPort: 8080}]}
        """.formatted(TOKEN_1, TOKEN_2));
    Files.writeString(dir.resolve("n1.token"), TOKEN_1);
    Files.writeString(dir.resolve("n2.token"), TOKEN_2);
    String pods = "{\"namespaces\": {\"demo\": {\"trellis.dev/mesh\": \"enabled\"}}, \"pods\": [%s]}";
    Files.writeString(dir.resolve("n1-pods.json"), pods.formatted(pod(client) + ", " + pod(spare)));
    Files.writeString(dir.resolve("n2-pods.json"), pods.formatted(pod(server)));
    Files.writeString(dir.resolve("nginx.conf"), """
        worker_processes 1;
        pid %1$s/nginx.pid;
        error_log %1$s/nginx-error.log;
        events { worker_connections 1024; }
        http {
          access_log off;
          client_body_temp_path %1$s; proxy_temp_path %1$s; fastcgi_temp_path %1$s; uwsgi_temp_path %1$s; scgi_temp_path %1$s;
          server { listen 10.12.1.2:8080; location / { return 200 "0123456789012345678901234567890123456789012345678901234567890123"; } }
        }
        """.formatted(dir));
    cluster.start("control-plane", cluster.netns("n1"), null, NamespaceCluster.java(ControlPlaneMain.class, "control-plane",
        "--mesh", dir.resolve("mesh.yaml").toString(), "--state-dir", dir.resolve("cp").toString(), "--bind", "10.10.0.1"));
    for (String n : List.of("n1", "n2")) {
      String address = n.equals("n1") ? "10.10.0.1" : "10.10.0.2";
      List<String> cmd = new ArrayList<>(NamespaceCluster.java(NodeProxyMain.class, "--node",
          n.equals("n1") ? "node-1" : "node-2", "--address", address, "--token-file", dir.resolve(n + ".token").toString(),
          "--control-plane", "10.10.0.1:15010", "--capture", "transparent", "--ebpf-pins", pins(n)));
      // The same JVM settings as scripts/bench-proxy gives the node proxy.
      cmd.remove("-XX:TieredStopAtLevel=1");
      cmd.remove("-Xmx256m");
      cmd.addAll(1, List.of("-Xms256m", "-Xmx256m", "--sun-misc-unsafe-memory-access=allow",
          "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"));
      cluster.start(n + "-proxy", cluster.netns(n), null, cmd);
    }
    cluster.start("nginx", server.netns(), server.cgroup(), List.of("nginx", "-c", dir.resolve("nginx.conf").toString(),
        "-g", "daemon off;"));
    await().atMost(Duration.ofSeconds(90)).until(() -> ready("n1", "10.10.0.1") && ready("n2", "10.10.0.2"));
  }

  String pins(String node) {
    return "/sys/fs/bpf/trellis-bench-" + cluster.id + "-" + node;
  }

  static String pod(NamespaceCluster.Pod p) {
    return "{\"namespace\": \"demo\", \"name\": \"" + p.name() + "\", \"uid\": \"uid-" + p.name() + "\", \"cgroup\": \""
        + p.cgroup() + "\"}";
  }

  boolean ready(String node, String address) throws Exception {
    return cluster.exec(cluster.netns(node), null, 5, "curl", "-sf", "-m", "3", "http://" + address + ":15020/healthz/ready")
        .exitCode() == 0;
  }

  void enroll(String mode, int round) throws Exception {
    for (String n : List.of("n1", "n2")) {
      cluster.start(n + "-agent", cluster.netns(n), null, NamespaceCluster.java(NodeAgentMain.class,
          "--pods", cluster.dir.resolve(n + "-pods.json").toString(), "--socket", cluster.dir.resolve(n + ".sock").toString(),
          "--redirect", mode, "--proxy-address", n.equals("n1") ? "10.10.0.1" : "10.10.0.2",
          "--state-file", cluster.dir.resolve(n + "-" + mode + round + "-state.json").toString(), "--ebpf-pins", pins(n)));
    }
    await().atMost(Duration.ofSeconds(60)).until(() -> cluster.log("n1-agent").contains("node agent up")
        && cluster.log("n2-agent").contains("node agent up"));
    for (NamespaceCluster.Pod p : List.of(client, server)) {
      CniPlugin.Outcome o = CniPlugin.overUnixSocket().run(env("ADD", p), config(p));
      assertThat(o.exitCode()).as("%s ADD %s: %s", mode, p.name(), o.stdout()).isZero();
    }
  }

  void release(String mode, int round) throws Exception {
    for (NamespaceCluster.Pod p : List.of(client, server)) {
      assertThat(CniPlugin.overUnixSocket().run(env("DEL", p), config(p)).exitCode()).isZero();
    }
    for (String n : List.of("n1", "n2")) {
      cluster.stop(n + "-agent");
      Files.move(cluster.dir.resolve(n + "-agent.log"), cluster.dir.resolve(n + "-agent-" + mode + round + ".log"));
      NamespaceCluster.Result r = cluster.exec(cluster.netns(n), null, 60, NamespaceCluster.java(NodeAgentMain.class,
          "uninstall", "--redirect", mode, "--ebpf-pins", pins(n)).toArray(String[]::new));
      assertThat(r.exitCode()).as(r.output()).isZero();
    }
  }

  Map<String, String> env(String command, NamespaceCluster.Pod p) {
    return Map.of("CNI_COMMAND", command, "CNI_CONTAINERID", "ctr-" + p.name(), "CNI_NETNS", "/var/run/netns/" + p.netns(),
        "CNI_IFNAME", "eth0", "CNI_PATH", "/opt/cni/bin",
        "CNI_ARGS", "K8S_POD_NAMESPACE=demo;K8S_POD_NAME=" + p.name() + ";K8S_POD_UID=uid-" + p.name());
  }

  String config(NamespaceCluster.Pod p) {
    return "{\"cniVersion\": \"1.0.0\", \"name\": \"k8s\", \"type\": \"trellis-cni\", \"agentSocket\": \""
        + cluster.dir.resolve(p.node() + ".sock") + "\", \"agentTimeoutMillis\": 20000, \"prevResult\": "
        + "{\"cniVersion\": \"1.0.0\", \"ips\": [{\"address\": \"" + p.ip() + "/24\"}]}}";
  }

  /** h2load from the client pod: one connection (latency) and 16 (throughput), with the proxies' CPU. */
  void measure(String variant, String url) throws Exception {
    NamespaceCluster.Result check = cluster.exec(client, 10, "curl", "-sf", "-m", "5", url);
    assertThat(check.exitCode()).as("%s: %s", variant, check.output()).isZero();
    // Unmeasured load first (the JIT compiles the proxies' hot paths), so the CPU window below holds
    // only measured requests.
    NamespaceCluster.Result warm = cluster.exec(client, 60, "h2load", "--h1", "-t1", "-c16", "-D", "10", url);
    assertThat(warm.exitCode()).as(warm.output()).isZero();
    for (int conns : new int[] {1, 16}) {
      Path log = cluster.dir.resolve("h2load-" + variant + "-" + conns + ".log");
      long cpuBefore = proxiesCpuMicros();
      NamespaceCluster.Result r = cluster.exec(client, SECONDS + 30, "h2load", "--h1", "-t1", "-c" + conns,
          "-D", Integer.toString(SECONDS), "--log-file", log.toString(), url);
      long cpu = proxiesCpuMicros() - cpuBefore;
      assertThat(r.exitCode()).as(r.output()).isZero();
      String reqs = r.output().replaceAll("(?s).*finished in [^,]+, ([0-9.]+) req/s.*", "$1");
      long[] durations = Files.readAllLines(log, StandardCharsets.UTF_8).stream().map(l -> l.split("\t"))
          .filter(f -> f.length >= 3 && f[1].equals("200")).mapToLong(f -> Long.parseLong(f[2])).sorted().toArray();
      long failed = Files.readAllLines(log, StandardCharsets.UTF_8).stream().filter(l -> !l.split("\t")[1].equals("200"))
          .count();
      assertThat(failed).as("%s: non-200 answers", variant).isZero();
      double mean = Arrays.stream(durations).average().orElse(0);
      String cpuPerRequest = variant.equals("direct") ? "–" : String.format("%.1f", (double) cpu / durations.length);
      rows.add(String.format("| %s | %d | %s | %.0f | %d | %d | %s |", variant, conns, reqs, mean,
          durations[durations.length / 2], durations[(int) (durations.length * 0.99)], cpuPerRequest));
      System.err.println("progress: " + rows.getLast());
    }
  }

  /** ADD+DEL cycles for a spare pod: through the agent (in-process client), then a plugin JVM per call. */
  void cniLatency(String mode) throws Exception {
    long[] viaAgent = new long[CNI_RUNS];
    for (int i = 0; i < CNI_RUNS; i++) {
      long t = System.nanoTime();
      CniPlugin.Outcome o = CniPlugin.overUnixSocket().run(env("ADD", spare), config(spare));
      viaAgent[i] = System.nanoTime() - t;
      assertThat(o.exitCode()).as(o.stdout()).isZero();
      assertThat(CniPlugin.overUnixSocket().run(env("DEL", spare), config(spare)).exitCode()).isZero();
    }
    boolean packaged = !System.getProperty("bench.cniPlugin", "").isBlank();
    long[] viaProcess = new long[packaged ? CNI_PROCESS_RUNS : 0];
    for (int i = 0; i < viaProcess.length; i++) {
      long t = System.nanoTime();
      int exit = plugin(env("ADD", spare), config(spare));
      viaProcess[i] = System.nanoTime() - t;
      assertThat(exit).isZero();
      assertThat(CniPlugin.overUnixSocket().run(env("DEL", spare), config(spare)).exitCode()).isZero();
    }
    Arrays.sort(viaAgent);
    Arrays.sort(viaProcess);
    cniRows.add(String.format("| %s | %.1f / %.1f | %s |", mode, viaAgent[CNI_RUNS / 2] / 1e6,
        viaAgent[(int) (CNI_RUNS * 0.99)] / 1e6, !packaged ? "– (no -Dbench.cniPlugin)" : String.format("%.0f / %.0f",
            viaProcess[CNI_PROCESS_RUNS / 2] / 1e6, viaProcess[(int) (CNI_PROCESS_RUNS * 0.99)] / 1e6)));
    System.err.println("progress: " + cniRows.getLast());
  }

  /** The packaged plugin as a runtime calls it ({@code -Dbench.cniPlugin}: scripts/bench-redirect builds it). */
  int plugin(Map<String, String> env, String stdin) throws Exception {
    return TrellisCniIT.plugin(Path.of(System.getProperty("bench.cniPlugin")), env, stdin).exitCode();
  }

  long proxiesCpuMicros() throws Exception {
    long ticks = 0;
    for (String n : List.of("n1-proxy", "n2-proxy")) {
      String[] f = Files.readString(Path.of("/proc/" + cluster.process(n).pid() + "/stat")).replaceAll(".*\\) ", "")
          .split(" ");
      ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime, stime (fields 14 and 15)
    }
    return ticks * 10_000; // USER_HZ 100
  }
}
