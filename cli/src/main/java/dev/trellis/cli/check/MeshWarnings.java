package dev.trellis.cli.check;

import dev.trellis.controlplane.model.Mesh;
import dev.trellis.controlplane.model.MeshNode;
import dev.trellis.controlplane.model.Service;
import dev.trellis.controlplane.model.TrafficPolicy;
import dev.trellis.controlplane.model.Workload;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What parses but will not work when the mesh runs in local mode (every node and workload on this machine's
 * loopback addresses), or not alike for every kind of xDS client (a load balancer proxyless gRPC lacks). Pure over
 * the mesh, the positions of its fields and a port probe: each warning is one line,
 * {@code file:line:column: warning: field: what is wrong; what to do}.
 */
final class MeshWarnings {

  /**
   * The node proxy's listeners on each node's address: entry/outbound, plaintext inbound, HBONE, health and metrics,
   * and (its node address being loopback in local mode) the debug admin.
   */
  static final Map<Integer, String> NODE_PROXY_PORTS = Map.of(15001, "entry", 15006, "inbound", 15008, "HBONE",
      15020, "admin", 15000, "debug admin");

  private MeshWarnings() {}

  static List<String> of(Mesh mesh, YamlPositions at, PortProbe ports) {
    List<String> out = new ArrayList<>();
    List<MeshNode> nodes = mesh.nodes();
    for (int i = 0; i < nodes.size(); i++) {
      MeshNode node = nodes.get(i);
      if (!isLoopback(node.address())) {
        out.add(warning(at.where("nodes", i, "address"), "node '" + node.name() + "' has address " + node.address()
            + ", not a loopback address: in local mode each node proxy listens on its own 127.N.0.1 "
            + "(e.g. 127.0." + (i + 1) + ".1)"));
        continue;
      }
      for (int port : NODE_PROXY_PORTS.keySet().stream().sorted().toList()) {
        if (ports.inUse(node.address(), port)) {
          out.add(warning(at.where("nodes", i, "address"), node.address() + ":" + port + " (the node proxy's "
              + NODE_PROXY_PORTS.get(port) + " port) is already in use: stop what listens there "
              + "(ss -ltnp 'sport = :" + port + "') unless it is this node's proxy already running"));
        }
      }
    }
    List<Workload> workloads = mesh.workloads();
    for (int i = 0; i < workloads.size(); i++) {
      Workload w = workloads.get(i);
      String where = at.where("workloads", i, "address");
      nodes.stream().filter(n -> n.address().equals(w.address())).findFirst().ifPresent(n -> out.add(warning(where,
          "workload " + w.ref() + " has the address of node '" + n.name() + "': the workload and that node's proxy "
              + "would share it; give the workload an address of its own (e.g. " + sibling(n.address()) + ")")));
      if (!isLoopback(w.address())) {
        out.add(warning(where, "workload " + w.ref() + " has address " + w.address() + ", not a loopback address: "
            + "in local mode workloads run on this machine; use a 127.x.y.z address near its node's"));
      }
    }
    List<Service> services = mesh.services();
    for (int i = 0; i < services.size(); i++) {
      Service s = services.get(i);
      if (!s.selector().isEmpty() && workloads.stream().noneMatch(w -> w.matches(s.selector()))) {
        out.add(warning(at.where("services", i, "selector"), "service " + s.ref() + " selects no workload ("
            + s.selector() + "): calls to it will fail with no endpoints; check the labels of its workloads"));
      }
    }
    List<TrafficPolicy> policies = mesh.policies();
    for (int i = 0; i < policies.size(); i++) {
      TrafficPolicy.LoadBalancer lb = policies.get(i).loadBalancer();
      if (lb != null) {
        loadBalancer(lb, policies.get(i).service().toString(), i, at, out);
      }
    }
    return out;
  }

  /** A load balancer proxyless gRPC clients lack: they get another one (the control plane's per-client translation). */
  private static void loadBalancer(TrafficPolicy.LoadBalancer lb, String service, int i, YamlPositions at,
      List<String> out) {
    String algorithm = at.where("policies", i, "loadBalancer", "algorithm");
    switch (lb.algorithm()) {
      case MAGLEV -> out.add(warning(algorithm, "maglev: proxyless gRPC clients of " + service + " get ring-hash "
          + "instead (gRPC has no Maglev; /debug/clients notes it on each such client); Envoy and node proxies use "
          + "Maglev"));
      case RANDOM -> out.add(warning(algorithm, "random: proxyless gRPC clients of " + service + " get round-robin "
          + "instead (gRPC has no random; /debug/clients notes it on each such client); Envoy and node proxies use "
          + "random"));
      default -> { }
    }
  }

  private static String warning(String where, String message) {
    // file:line:column: field: ... -> file:line:column: warning: field: ...
    int field = where.indexOf(": ");
    return field < 0 ? where + ": warning: " + message
        : where.substring(0, field) + ": warning: " + where.substring(field + 2) + ": " + message;
  }

  private static String sibling(String nodeAddress) {
    int dot = nodeAddress.lastIndexOf('.');
    return dot < 0 ? "another address" : nodeAddress.substring(0, dot) + ".10";
  }

  static boolean isLoopback(String address) {
    try {
      // The mesh file holds IP literals only (the parser checked), so this never looks anything up.
      return InetAddress.ofLiteral(address).isLoopbackAddress();
    } catch (IllegalArgumentException e) {
      return false;
    }
  }
}
