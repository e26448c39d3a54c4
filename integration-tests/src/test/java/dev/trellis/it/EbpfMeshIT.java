package dev.trellis.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

/**
 * {@link TransparentMeshIT} with eBPF forced: cgroup programs redirect outbound connects (the proxy reads the
 * original destination from the pinned map), nftables TPROXY captures inbound. Also checks that the
 * redirect is invisible to the pod ({@code getpeername}) and that the programs are really attached to the
 * pod's cgroup, and gone after release.
 */
class EbpfMeshIT extends TransparentMeshIT {

  @Override
  String redirectMode() {
    return "ebpf";
  }

  Path podPins(NamespaceCluster.Pod pod) {
    return Path.of(pinsOf(pod.node()), "pods", "ctr-" + pod.name());
  }

  /** The programs bpftool sees attached to the pod's cgroup. */
  String attached(NamespaceCluster.Pod pod) throws Exception {
    HostTools.require(HostTools.Tool.BPFTOOL);
    return cluster.exec(cluster.netns(pod.node()), null, 10, "bpftool", "cgroup", "show", pod.cgroup().toString()).output();
  }

  boolean inboundElement(NamespaceCluster.Pod pod) throws Exception {
    return cluster.exec(cluster.netns(pod.node()), null, 10, "nft", "get", "element", "inet", "trellis", "pods4",
        "{ " + pod.ip() + " }").exitCode() == 0;
  }

  @Override
  boolean redirectionPresent(NamespaceCluster.Pod pod) throws Exception {
    String programs = attached(pod);
    return Files.exists(podPins(pod).resolve("trellis_connect4")) && Files.exists(podPins(pod).resolve("trellis_sockops"))
        && programs.contains("trellis_connect4") && programs.contains("trellis_connect6")
        && programs.contains("trellis_sockops") && programs.contains("trellis_getpeername4")
        && programs.contains("trellis_getpeername6") && inboundElement(pod);
  }

  @Override
  boolean anythingPresent(NamespaceCluster.Pod pod) throws Exception {
    return Files.exists(podPins(pod)) || attached(pod).contains("trellis_") || inboundElement(pod)
        || originalDestinationsFrom(pod);
  }

  /** Whether the shared map still holds an entry for a connection from {@code pod} (its IPv4-mapped address). */
  boolean originalDestinationsFrom(NamespaceCluster.Pod pod) throws Exception {
    Path map = Path.of(pinsOf(pod.node()), "orig_dst");
    if (!Files.exists(map)) {
      return false;
    }
    StringBuilder hex = new StringBuilder("\"0xff\",\"0xff\"");
    for (String octet : pod.ip().split("\\.")) {
      hex.append(String.format(",\"0x%02x\"", Integer.parseInt(octet)));
    }
    HostTools.require(HostTools.Tool.BPFTOOL);
    String dump = cluster.exec(cluster.netns(pod.node()), null, 10, "bpftool", "-j", "map", "dump", "pinned",
        map.toString()).output();
    return java.util.regex.Pattern.compile("\"key\":\\[[^\\]]*" + java.util.regex.Pattern.quote(hex.toString()))
        .matcher(dump).find();
  }

  @Test
  @Order(5)
  void anEntryThePodLeftInTheSharedMapIsSeenAndGoesWithThePod() throws Exception {
    // As if a connection's original destination had been published and never read (the proxy was down):
    // the un-enrollment test that follows must see it removed.
    HostTools.require(HostTools.Tool.BPFTOOL);
    List<String> cmd = new java.util.ArrayList<>(List.of("bpftool", "map", "update", "pinned",
        Path.of(pinsOf("n1"), "orig_dst").toString(), "key", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0xff", "0xff"));
    for (String octet : client.ip().split("\\.")) {
      cmd.add(octet);
    }
    cmd.addAll(List.of("0x9c", "0x41", "0", "0", "value", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0xff", "0xff",
        "10", "96", "0", "10", "0", "80", "0", "0"));
    NamespaceCluster.Result r = cluster.exec(cluster.netns("n1"), null, 10, cmd.toArray(String[]::new));
    assertThat(r.exitCode()).as(r.output()).isZero();
    assertThat(originalDestinationsFrom(client)).isTrue();
    assertThat(originalDestinationsFrom(optOut)).isFalse();
  }

  @Test
  @Order(2)
  void passthroughLeavesThroughThePodsOwnInterfaceFromASocketInItsNamespace() throws Exception {
    HostTools.require(HostTools.Tool.TCPDUMP);
    // The pod's own connect goes to the proxy (10.10.0.1:15001): a SYN to the host on the pod's interface can only
    // be the proxy's, from a socket it made inside the pod's namespace.
    String veth = cluster.exec(cluster.netns("n1"), null, 10, "ip", "-o", "-4", "addr", "show", "to", "10.11.1.1/32")
        .output().strip().split("\\s+")[1];
    cluster.start("syn", cluster.netns("n1"), null, List.of("tcpdump", "-i", veth, "-n", "-l",
        "tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack == 0 and dst host 10.13.0.2 and dst port 8080"));
    await().atMost(Duration.ofSeconds(10)).until(() -> cluster.log("syn").contains("listening on"));
    assertThat(curl(client, "http://10.13.0.2:8080/").output()).isEqualTo("peer 10.11.1.2\n 200");
    await().atMost(Duration.ofSeconds(10)).until(() -> cluster.log("syn").contains("10.11.1.2."));
    cluster.stop("syn");
    assertThat(cluster.log("syn")).containsPattern("IP 10\\.11\\.1\\.2\\.\\d+ > 10\\.13\\.0\\.2\\.8080: Flags \\[S\\]");
    assertThat(cluster.log("n1-proxy")).contains("leaves from inside each pod's network namespace");
  }

  @Override
  boolean anythingLeft(String node) throws Exception {
    String tables = cluster.exec(cluster.netns(node), null, 10, "nft", "list", "tables").output();
    return Files.exists(Path.of(pinsOf(node))) || tables.contains("trellis");
  }

  @Test
  @Order(2)
  void eachProgramIsAttachedOnceAndThePodsGetpeernameStillShowsTheServiceVip() throws Exception {
    String programs = attached(client);
    assertThat(programs.split("trellis_connect4", -1)).as(programs).hasSize(2);
    NamespaceCluster.Result peer = cluster.exec(client, 10, "perl", "-MSocket", "-e",
        "socket(S, PF_INET, SOCK_STREAM, 0) or die $!; connect(S, pack_sockaddr_in(80, inet_aton('10.96.0.10'))) or die $!;"
            + " my ($port, $ip) = unpack_sockaddr_in(getpeername(S)); print inet_ntoa($ip), ':', $port, \"\\n\";");
    assertThat(peer.output().strip()).as("getpeername in the pod").isEqualTo("10.96.0.10:80");
  }
}
