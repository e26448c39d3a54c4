package dev.trellis.it;

/** {@link TransparentMeshIT} with the nftables fallback forced: TPROXY both ways. */
class NftablesMeshIT extends TransparentMeshIT {

  @Override
  String redirectMode() {
    return "nftables";
  }

  @Override
  boolean redirectionPresent(NamespaceCluster.Pod pod) throws Exception {
    return cluster.exec(cluster.netns(pod.node()), null, 10, "nft", "get", "element", "inet", "trellis", "pods4",
        "{ " + pod.ip() + " }").exitCode() == 0;
  }

  @Override
  boolean anythingPresent(NamespaceCluster.Pod pod) throws Exception {
    return redirectionPresent(pod);
  }

  @Override
  boolean anythingLeft(String node) throws Exception {
    String tables = cluster.exec(cluster.netns(node), null, 10, "nft", "list", "tables").output();
    String rules = cluster.exec(cluster.netns(node), null, 10, "ip", "rule", "show").output();
    return tables.contains("trellis") || rules.contains("0x539");
  }
}
