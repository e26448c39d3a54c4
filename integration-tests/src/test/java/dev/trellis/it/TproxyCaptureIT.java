package dev.trellis.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.proxy.redirect.Exclusions;
import dev.trellis.proxy.redirect.NftablesRedirector;
import dev.trellis.proxy.redirect.Redirector;
import dev.trellis.proxy.redirect.TproxyRouting;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Transparent capture with the nftables fallback, for real (root): a "node" network namespace and two
 * "pods" joined to it by veth pairs, no route anywhere else. The node runs the proxy's transparent
 * capture listener (in its own JVM, epoll transport); the nftables redirector captures one pod. That
 * pod's unmodified connection to a service VIP that exists nowhere reaches the listener, which sees
 * the VIP as the original destination and the pod as the source, except on a port its annotations
 * exclude; the other pod's, and the first one's after it is released, go nowhere.
 */
class TproxyCaptureIT {

  String node;
  String pod1;
  String pod2;
  Process probe;

  @BeforeEach
  void buildCluster() throws Exception {
    HostTools.require(HostTools.Tool.IP, HostTools.Tool.NFT);
    String id = Integer.toHexString(ThreadLocalRandom.current().nextInt() & 0xfffff);
    node = "trellis-it-node-" + id;
    pod1 = "trellis-it-pod1-" + id;
    pod2 = "trellis-it-pod2-" + id;
    for (String ns : List.of(node, pod1, pod2)) {
      run("ip", "netns", "add", ns);
      run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up");
    }
    veth(pod1, "tv1" + id, "10.200.1.2", "10.200.1.1");
    veth(pod2, "tv2" + id, "10.200.2.2", "10.200.2.1");
  }

  /** A veth pair between the node and {@code pod}: the pod's default route points at the node. */
  void veth(String pod, String name, String podIp, String nodeIp) throws Exception {
    String peer = name + "p";
    run("ip", "link", "add", name, "type", "veth", "peer", "name", peer);
    run("ip", "link", "set", name, "netns", node);
    run("ip", "link", "set", peer, "netns", pod);
    run("ip", "netns", "exec", node, "ip", "addr", "add", nodeIp + "/24", "dev", name);
    run("ip", "netns", "exec", node, "ip", "link", "set", name, "up");
    run("ip", "netns", "exec", pod, "ip", "addr", "add", podIp + "/24", "dev", peer);
    run("ip", "netns", "exec", pod, "ip", "link", "set", peer, "up");
    run("ip", "netns", "exec", pod, "ip", "route", "add", "default", "via", nodeIp);
  }

  @AfterEach
  void tearDown() throws Exception {
    if (probe != null) {
      probe.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    for (String ns : new String[] {pod1, pod2, node}) {
      if (ns != null) {
        new ProcessBuilder("ip", "netns", "del", ns).start().waitFor(10, TimeUnit.SECONDS); // veths go with them
      }
    }
  }

  static String run(String... cmd) throws IOException, InterruptedException {
    return NftablesRedirectorIT.run(cmd);
  }

  /** From {@code pod}: connect to the VIP, read one line; null when the connection fails. */
  static String dialVip(String pod) throws Exception {
    return dialVip(pod, 80);
  }

  static String dialVip(String pod, int port) throws Exception {
    Process p = new ProcessBuilder("ip", "netns", "exec", pod, "timeout", "3", "bash", "-c",
        "exec 3<>/dev/tcp/10.96.0.1/" + port + " && head -n 1 <&3").redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    p.waitFor(10, TimeUnit.SECONDS);
    return p.exitValue() == 0 ? out : null;
  }

  @Test
  void aCapturedPodsConnectionToAVipReachesTheTransparentListenerAndNothingElseDoes() throws Exception {
    NftablesRedirector redirector = new NftablesRedirector(NftablesRedirector.Nft.command(node),
        NftablesRedirector.Ports.DEFAULTS);
    redirector.ensureBase();
    new TproxyRouting(TproxyRouting.Ip.command(node)).install();
    Redirector.Target captured = new Redirector.Target("c1", "/var/run/netns/" + pod1, "demo", "client-0",
        List.of("10.200.1.2"), new Exclusions(List.of(81), List.of("10.96.9.0/24")));
    redirector.install(captured);

    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    probe = new ProcessBuilder("ip", "netns", "exec", node, java, "-Dtrellis.transport=epoll",
        "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
        TransparentProbe.class.getName(), "::", "15001").redirectErrorStream(true).start();
    BufferedReader out = new BufferedReader(new InputStreamReader(probe.getInputStream(), StandardCharsets.UTF_8));
    String ready = out.readLine();
    assertThat(ready).as("the probe's first line").contains("15001 with EPOLL");

    assertThat(dialVip(pod1)).isEqualTo("orig=10.96.0.1:80 from=10.200.1.2");
    assertThat(dialVip(pod1, 8080)).isEqualTo("orig=10.96.0.1:8080 from=10.200.1.2");
    assertThat(dialVip(pod1, 81)).as("port 81 is excluded by the pod's annotation: not redirected").isNull();
    assertThat(dialVip(pod2)).as("a pod that is not captured has no way to the VIP").isNull();

    redirector.remove(captured);
    assertThat(dialVip(pod1)).as("released: no redirect left").isNull();
  }
}
