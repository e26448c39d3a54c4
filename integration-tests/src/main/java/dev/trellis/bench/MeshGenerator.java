package dev.trellis.bench;

import java.util.Map;

/**
 * Writes a synthetic mesh file: {@code services} services with {@code endpoints} workloads each,
 * spread over {@code nodes} nodes; every service has one gRPC port and a VIP.
 */
final class MeshGenerator {

  final int services;
  final int endpoints;
  final int nodes;

  MeshGenerator(int services, int endpoints, int nodes) {
    if (services > 60_000 || nodes > 60_000 || services * endpoints > 16_000_000) {
      throw new IllegalArgumentException("mesh too large for the address plan");
    }
    this.services = services;
    this.endpoints = endpoints;
    this.nodes = nodes;
  }

  static String nodeName(int k) {
    return "node-" + k;
  }

  static String nodeToken(int k) {
    return "bench-node-token-" + String.format("%08d", k);
  }

  String workloadName(int service, int index) {
    return "svc-" + service + "-" + index;
  }

  static String cluster(int service) {
    return "outbound|8080||svc-" + service + ".bench.svc.cluster.local";
  }

  int nodeOf(int service, int index) {
    return (service * endpoints + index) % nodes;
  }

  /** Expected workloads on node {@code k}. */
  int workloadsOn(int k) {
    int n = 0;
    for (int s = 0; s < services; s++) {
      for (int i = 0; i < endpoints; i++) {
        if (nodeOf(s, i) == k) {
          n++;
        }
      }
    }
    return n;
  }

  /** The mesh YAML; {@code addressOverrides} maps workload names to replacement addresses. */
  String yaml(Map<String, String> addressOverrides) {
    StringBuilder b = new StringBuilder(services * endpoints * 160);
    b.append("trustDomain: cluster.local\nnodes:\n");
    for (int k = 0; k < nodes; k++) {
      b.append("  - {name: ").append(nodeName(k)).append(", address: 127.1.").append(k / 250).append('.')
          .append(k % 250 + 1).append(", token: ").append(nodeToken(k)).append("}\n");
    }
    b.append("workloads:\n");
    int w = 0;
    for (int s = 0; s < services; s++) {
      for (int i = 0; i < endpoints; i++, w++) {
        String name = workloadName(s, i);
        String address = addressOverrides.getOrDefault(name,
            "10." + (w / 62_500) + "." + ((w / 250) % 250) + "." + (w % 250 + 1));
        b.append("  - {name: ").append(name).append(", namespace: bench, serviceAccount: svc-").append(s)
            .append(", node: ").append(nodeName(nodeOf(s, i))).append(", address: ").append(address)
            .append(", labels: {app: svc-").append(s).append("}}\n");
      }
    }
    b.append("services:\n");
    for (int s = 0; s < services; s++) {
      b.append("  - {name: svc-").append(s).append(", namespace: bench, vip: 10.96.").append(s / 250).append('.')
          .append(s % 250 + 1).append(", selector: {app: svc-").append(s)
          .append("}, ports: [{name: grpc, port: 8080}]}\n");
    }
    return b.toString();
  }
}
