package dev.trellis.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.proxy.host.Mounts;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A small "cluster" on this machine for root tests: nodes and pods are network namespaces, each pod joined
 * to its node by a veth pair and given its own cgroup v2 directory, nodes joined by a link; hosts outside the
 * mesh ({@link #host}) are namespaces joined to a node the same way. Nothing has a
 * route out of these namespaces, so traffic that is not redirected fails instead of leaving the machine.
 * Processes run inside a namespace (and a pod's cgroup) with their output in a log file. {@link #close}
 * removes every process, namespace (veths go with them) and cgroup it made, and its directory (kept when
 * the environment has {@code TRELLIS_IT_KEEP}).
 */
final class NamespaceCluster implements AutoCloseable {

  /** A pod: its namespace, address, and cgroup directory. */
  record Pod(String name, String node, String netns, String ip, Path cgroup) {}

  /** A finished command. */
  record Result(int exitCode, String output) {}

  final String id = Integer.toHexString(ThreadLocalRandom.current().nextInt() & 0xfffff);
  final Path dir;
  final Path cgroups;
  private final Map<String, String> nodes = new LinkedHashMap<>();
  private final List<Pod> pods = new ArrayList<>();
  /** Every pod and host namespace made, in order, each deleted on close even when setting it up failed. */
  private final List<String> joined = new ArrayList<>();
  private final Map<String, Process> processes = new LinkedHashMap<>();
  private int veths;

  NamespaceCluster() throws IOException {
    HostTools.require(HostTools.Tool.IP, HostTools.Tool.SYSCTL, HostTools.Tool.NSENTER);
    dir = Files.createTempDirectory("trellis-cluster-" + id);
    Path mount = Mounts.fetch().cgroup2().orElseThrow(() -> new IllegalStateException("no cgroup2 mount"));
    cgroups = Files.createDirectories(mount.resolve("trellis-it-" + id));
  }

  /** A node namespace that forwards between its pods and the other nodes. */
  String node(String name) throws Exception {
    String ns = "t" + id + "-" + name;
    run("ip", "netns", "add", ns);
    nodes.put(name, ns);
    run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up");
    run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1");
    return ns;
  }

  String netns(String node) {
    return nodes.get(node);
  }

  /** A link between two nodes, {@code a} with {@code ipA}/24 and {@code b} with {@code ipB}/24; returns a's side. */
  String link(String a, String ipA, String b, String ipB) throws Exception {
    String name = "tv" + id + veths++;
    run("ip", "link", "add", name, "type", "veth", "peer", "name", name + "p");
    configure(nodes.get(a), name, ipA);
    configure(nodes.get(b), name + "p", ipB);
    return name;
  }

  void route(String node, String cidr, String via) throws Exception {
    run("ip", "netns", "exec", nodes.get(node), "ip", "route", "add", cidr, "via", via);
  }

  /** A pod on {@code node}: address {@code ip}/24, default route via {@code gateway} on the node's side. */
  Pod pod(String node, String name, String ip, String gateway) throws Exception {
    String ns = join(node, name, ip, gateway);
    Pod p = new Pod(name, node, ns, ip, Files.createDirectories(cgroups.resolve(name)));
    pods.add(p);
    return p;
  }

  /** A new namespace joined to {@code node} by a veth pair: address {@code ip}/24, default route via {@code gateway}. */
  private String join(String node, String name, String ip, String gateway) throws Exception {
    String ns = "t" + id + "-" + name;
    run("ip", "netns", "add", ns);
    joined.add(ns);
    run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up");
    String veth = "tv" + id + veths++;
    run("ip", "link", "add", veth, "type", "veth", "peer", "name", veth + "p");
    configure(nodes.get(node), veth, gateway);
    configure(ns, veth + "p", ip);
    run("ip", "netns", "exec", ns, "ip", "route", "add", "default", "via", gateway);
    return ns;
  }

  /**
   * A host outside the mesh (no pod, no cgroup, in no pods file): a namespace joined to {@code node} like a pod,
   * address {@code ip}/24 with a default route via {@code gateway} on the node's side, plus {@code extra} addresses
   * on its loopback (e.g. a metadata server's 169.254.169.254), each routed to it from the node. Returns its
   * namespace.
   */
  String host(String node, String name, String ip, String gateway, String... extra) throws Exception {
    String ns = join(node, name, ip, gateway);
    for (String address : extra) {
      run("ip", "netns", "exec", ns, "ip", "addr", "add", address + "/32", "dev", "lo");
      run("ip", "netns", "exec", nodes.get(node), "ip", "route", "add", address + "/32", "via", ip);
    }
    return ns;
  }

  private void configure(String ns, String veth, String ip) throws Exception {
    run("ip", "link", "set", veth, "netns", ns);
    run("ip", "netns", "exec", ns, "ip", "addr", "add", ip + "/24", "dev", veth);
    run("ip", "netns", "exec", ns, "ip", "link", "set", veth, "up");
  }

  /**
   * {@code cmd} inside {@code netns}, and inside {@code cgroup} when not null (as a pod's container is). Only
   * the network namespace changes ({@code nsenter --net}): {@code ip netns exec} would also remount /sys and
   * hide the cgroup and bpf filesystems the node agent works on.
   */
  static List<String> inside(String netns, Path cgroup, List<String> cmd) {
    List<String> full = new ArrayList<>();
    String enter = "exec nsenter --net=/var/run/netns/\"$0\" \"$@\"";
    full.addAll(List.of("sh", "-c", (cgroup == null ? "" : "echo $$ > " + cgroup.resolve("cgroup.procs") + " && ") + enter,
        netns));
    full.addAll(cmd);
    return full;
  }

  /** A JVM command running {@code main} with this test's classpath. */
  static List<String> java(Class<?> main, String... args) {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "--enable-native-access=ALL-UNNAMED", "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-Xmx256m",
        "-cp", System.getProperty("java.class.path"), main.getName()));
    cmd.addAll(List.of(args));
    return cmd;
  }

  /** Starts a long-running process named {@code name} (its output in {@code <dir>/<name>.log}). */
  Process start(String name, String netns, Path cgroup, List<String> cmd) throws IOException {
    Path log = dir.resolve(name + ".log");
    Process p = new ProcessBuilder(inside(netns, cgroup, cmd)).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
    processes.put(name, p);
    return p;
  }

  /** The process started as {@code name}, if running. */
  Process process(String name) {
    return processes.get(name);
  }

  /** Stops the process started as {@code name} (SIGTERM, then SIGKILL after 10 s). */
  void stop(String name) throws InterruptedException {
    Process p = processes.remove(name);
    if (p != null) {
      p.toHandle().descendants().forEach(ProcessHandle::destroy);
      p.destroy();
      if (!p.waitFor(10, TimeUnit.SECONDS)) {
        p.toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  String log(String name) throws IOException {
    Path log = dir.resolve(name + ".log");
    return Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
  }

  /** Runs {@code cmd} to completion inside {@code netns} (and {@code cgroup}), at most {@code seconds}. */
  Result exec(String netns, Path cgroup, int seconds, String... cmd) throws Exception {
    List<String> timed = new ArrayList<>(List.of("timeout", "-k", "2", Integer.toString(seconds)));
    timed.addAll(List.of(cmd));
    Process p = new ProcessBuilder(inside(netns, cgroup, timed)).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(seconds + 10L, TimeUnit.SECONDS)).as("%s finished", List.of(cmd)).isTrue();
    return new Result(p.exitValue(), out);
  }

  /** Runs {@code cmd} in a pod, as one of its containers would (its namespace and its cgroup). */
  Result exec(Pod pod, int seconds, String... cmd) throws Exception {
    return exec(pod.netns(), pod.cgroup(), seconds, cmd);
  }

  static String run(String... cmd) throws IOException, InterruptedException {
    return NftablesRedirectorIT.run(cmd);
  }

  @Override
  public void close() throws Exception {
    for (String name : List.copyOf(processes.keySet())) {
      stop(name);
    }
    for (String ns : joined) {
      new ProcessBuilder("ip", "netns", "del", ns).start().waitFor(10, TimeUnit.SECONDS);
    }
    for (String ns : nodes.values()) {
      new ProcessBuilder("ip", "netns", "del", ns).start().waitFor(10, TimeUnit.SECONDS);
    }
    for (Pod p : pods) {
      Files.deleteIfExists(p.cgroup()); // empty once its processes are gone
    }
    Files.deleteIfExists(cgroups);
    if (System.getenv("TRELLIS_IT_KEEP") == null) { // set it to keep the processes' logs for a look
      try (var files = Files.walk(dir)) {
        for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      }
    }
  }
}
