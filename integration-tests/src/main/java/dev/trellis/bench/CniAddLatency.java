package dev.trellis.bench;

import dev.trellis.proxy.cni.NodeAgentServer;
import dev.trellis.proxy.redirect.CaptureAgent;
import dev.trellis.proxy.redirect.Enrollment;
import dev.trellis.proxy.redirect.PodDirectory;
import dev.trellis.proxy.redirect.Redirector;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Wall time of one CNI ADD as the kubelet's runtime sees it: a fresh {@code trellis-cni} JVM process,
 * reading the configuration, asking the node agent over its Unix socket, waiting for its answer, and
 * printing the result. The agent runs in this process with a redirector that installs nothing, so
 * the figure is the plugin's own cost (JVM start included); each variant is run in turn, interleaved,
 * so the machine's noise hits all alike.
 *
 * <pre>java -cp benchmarks.jar dev.trellis.bench.CniAddLatency --java JAVA --cp PLUGIN_CLASSPATH [--runs 30]</pre>
 */
public final class CniAddLatency {

  record Variant(String name, List<String> jvmOptions, List<String> trainingOptions) {}

  public static void main(String[] args) throws Exception {
    String java = arg(args, "--java", null);
    String cp = arg(args, "--cp", null);
    int runs = Integer.parseInt(arg(args, "--runs", "30"));
    if (java == null || cp == null) {
      System.err.println("usage: CniAddLatency --java PATH_TO_JAVA --cp PLUGIN_CLASSPATH [--runs N]");
      System.exit(2);
    }
    Path dir = Files.createTempDirectory("trellis-cni-bench");
    CaptureAgent agent = agentEnrollingEveryPod(new ArrayList<>());
    agent.ready();
    List<String> common = List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k");
    Path jsa = dir.resolve("cni.jsa");
    Path aot = dir.resolve("cni.aot");
    List<Variant> variants = List.of(
        new Variant("plain JVM", List.of(), null),
        new Variant("C1 only, Serial GC", common, null),
        new Variant("+ AppCDS archive", concat(common, "-XX:SharedArchiveFile=" + jsa, "-XX:+AutoCreateSharedArchive"),
            concat(common, "-XX:SharedArchiveFile=" + jsa, "-XX:+AutoCreateSharedArchive")),
        new Variant("+ AOT cache (JDK 25)", concat(common, "-XX:AOTCache=" + aot),
            concat(common, "-XX:AOTCacheOutput=" + aot)));
    try (NodeAgentServer server = NodeAgentServer.start(dir.resolve("cni.sock"), agent)) {
      String config = """
          {"cniVersion": "1.0.0", "name": "k8s-pod-network", "type": "trellis-cni", "agentSocket": "%s",
           "prevResult": {"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "sandbox": "/var/run/netns/x"}],
                          "ips": [{"address": "10.1.0.7/24", "interface": 0}]}}""".formatted(server.socket());
      for (Variant v : variants) {
        if (v.trainingOptions() != null) {
          long ms = add(java, cp, v.trainingOptions(), config, "train-" + v.name().hashCode());
          System.out.printf("%s: training run %d ms%n", v.name(), ms);
        }
      }
      long[][] times = new long[variants.size()][runs];
      for (int i = 0; i < runs; i++) {
        for (int k = 0; k < variants.size(); k++) {
          times[k][i] = add(java, cp, variants.get(k).jvmOptions(), config, "c" + k + "-" + i);
        }
      }
      System.out.printf("%nCNI ADD wall time, %d runs each (fresh JVM per ADD, agent answering at once):%n", runs);
      System.out.printf("| variant | p50 ms | p90 ms | min ms | max ms |%n|---|---|---|---|---|%n");
      for (int k = 0; k < variants.size(); k++) {
        long[] t = times[k];
        Arrays.sort(t);
        System.out.printf("| %s | %d | %d | %d | %d |%n", variants.get(k).name(), t[t.length / 2],
            t[(int) (t.length * 0.9)], t[0], t[t.length - 1]);
      }
      System.out.printf("%npods captured by the agent: %d%n", agent.capturedContainers().size());
    }
  }

  /**
   * A node agent for which every pod is enrolled and whose redirector only notes what it would
   * install ({@code "<pod> <ips>"} into {@code installs}): the plugin's own cost, nothing of the kernel's.
   */
  public static CaptureAgent agentEnrollingEveryPod(List<String> installs) {
    PodDirectory pods = (ns, name, uid) -> Optional.of(new PodDirectory.Pod(ns, name, uid, Map.of(),
        Map.of(Enrollment.LABEL, "enabled"), false));
    return new CaptureAgent(pods, new Redirector() {
      @Override
      public void install(Target t) {
        installs.add(t.pod() + " " + t.ips());
      }

      @Override
      public void remove(Target t) {}

      @Override
      public boolean verify(Target t) {
        return true;
      }

      @Override
      public String name() {
        return "recording";
      }
    });
  }

  /** One ADD in a fresh process; fails the run on anything but success. */
  static long add(String java, String cp, List<String> options, String config, String container)
      throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of(java));
    cmd.addAll(options);
    cmd.addAll(List.of("-cp", cp, "dev.trellis.cni.CniMain"));
    ProcessBuilder pb = new ProcessBuilder(cmd);
    Map<String, String> env = pb.environment();
    env.put("CNI_COMMAND", "ADD");
    env.put("CNI_CONTAINERID", container);
    env.put("CNI_NETNS", "/var/run/netns/" + container);
    env.put("CNI_IFNAME", "eth0");
    env.put("CNI_ARGS", "K8S_POD_NAMESPACE=demo;K8S_POD_NAME=" + container + ";K8S_POD_UID=u-" + container);
    env.put("CNI_PATH", "/opt/cni/bin");
    pb.redirectError(ProcessBuilder.Redirect.DISCARD);
    long start = System.nanoTime();
    Process p = pb.start();
    p.getOutputStream().write(config.getBytes(StandardCharsets.UTF_8));
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0 || !out.contains("10.1.0.7/24")) {
      throw new IllegalStateException("ADD failed (" + String.join(" ", options) + "): " + out);
    }
    return (System.nanoTime() - start) / 1_000_000;
  }

  private static List<String> concat(List<String> a, String... more) {
    List<String> out = new ArrayList<>(a);
    out.addAll(List.of(more));
    return out;
  }

  private static String arg(String[] args, String name, String fallback) {
    for (int i = 0; i + 1 < args.length; i++) {
      if (args[i].equals(name)) {
        return args[i + 1];
      }
    }
    return fallback;
  }
}
