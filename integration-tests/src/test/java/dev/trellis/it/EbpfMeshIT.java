package dev.trellis.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
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
