package dev.trellis.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
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
    return Files.exists(podPins(pod)) || attached(pod).contains("trellis_") || inboundElement(pod);
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
