package dev.trellis.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.trellis.proxy.redirect.AgentStateFile;
import dev.trellis.proxy.redirect.PodAttachment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The passthrough dialer's pod-namespace mode against the real kernel (root): a node, a pod and a host outside the
 * mesh as namespaces ({@link NamespaceCluster}). The dialer runs as the node proxy does — its own JVM in the node's
 * namespace, epoll transport ({@link EgressDialProbe}) — and dials the host as the pod: the channel is made inside
 * the pod's namespace (the node agent's state file names it), so the host sees the pod's address, and a full HTTP
 * exchange completes. The same dial from the node is seen as the node; a pod the state file does not name is
 * refused, never dialed from the node.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PodNetnsDialIT {

  NamespaceCluster cluster;
  NamespaceCluster.Pod pod;
  Path state;

  @BeforeAll
  void build() throws Exception {
    cluster = new NamespaceCluster();
    cluster.node("n1");
    pod = cluster.pod("n1", "p", "10.71.1.2", "10.71.1.1");
    String host = cluster.host("n1", "ext", "10.71.9.2", "10.71.9.1");
    cluster.start("peer", host, null, NamespaceCluster.java(PeerServer.class, "10.71.9.2:8080"));
    state = cluster.dir.resolve("agent-state.json");
    new AgentStateFile(state).save(List.of(new AgentStateFile.Entry(new PodAttachment("ctr-p",
        "/var/run/netns/" + pod.netns(), "eth0", "demo", "p", "uid-p", List.of(pod.ip())), true)));
    await().atMost(Duration.ofSeconds(30)).until(() -> cluster.log("peer").contains("ready"));
  }

  @AfterAll
  void tearDown() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
  }

  NamespaceCluster.Result probe(String pod, String via, String... more) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(NamespaceCluster.java(EgressDialProbe.class, state.toString(),
        "10.71.1.1", pod, via, "10.71.9.2:8080").toArray(String[]::new)));
    cmd.addAll(List.of(more));
    cmd.add(1, "-Dtrellis.transport=epoll");
    return cluster.exec(cluster.netns("n1"), null, 60, cmd.toArray(String[]::new));
  }

  @Test
  void aConnectionDialedAsThePodLeavesFromInsideItsNamespaceWithItsAddressAndCompletesAnExchange() throws Exception {
    NamespaceCluster.Result r = probe(pod.ip(), "POD_NETNS");
    assertThat(r.output()).as(r.output()).contains("transport EPOLL, pod netns true").contains("local 10.71.1.2\n")
        .contains("HTTP/1.1 200").endsWith("peer 10.71.1.2\n");
    assertThat(cluster.log("peer")).contains("peer 10.71.1.2 -> 10.71.9.2:8080");
  }

  @Test
  void manyDialsInARowEachEnterTheNamespaceAndComeBack() throws Exception {
    // Also a rough measure of what entering the namespace costs per connection (printed, not asserted).
    NamespaceCluster.Result netns = probe(pod.ip(), "POD_NETNS", "300");
    NamespaceCluster.Result node = probe(pod.ip(), "NODE", "300");
    System.out.println(netns.output().lines().filter(l -> l.contains("dials via")).findFirst().orElse("")
        + "; " + node.output().lines().filter(l -> l.contains("dials via")).findFirst().orElse(""));
    assertThat(netns.output()).as(netns.output()).contains("300 dials via POD_NETNS");
    assertThat(node.output()).as(node.output()).contains("300 dials via NODE").endsWith(" us each\n");
  }

  @Test
  void theSameDialFromTheNodeIsSeenAsTheNode() throws Exception {
    NamespaceCluster.Result r = probe(pod.ip(), "NODE");
    assertThat(r.output()).as(r.output()).contains("HTTP/1.1 200").endsWith("peer 10.71.9.1\n");
  }

  @Test
  void aPodTheNodeAgentDoesNotNameIsRefusedNotDialedFromTheNode() throws Exception {
    int seen = cluster.log("peer").length();
    NamespaceCluster.Result r = probe("10.71.1.99", "POD_NETNS");
    assertThat(r.output()).as(r.output()).contains("failed EgressException: pod 10.71.1.99 is not a captured pod")
        .doesNotContain("HTTP/1.1");
    assertThat(cluster.log("peer").substring(seen)).as("nothing reached the host").isEmpty();
  }
}
