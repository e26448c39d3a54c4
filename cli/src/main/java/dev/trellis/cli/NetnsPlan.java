package dev.trellis.cli;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.trellis.controlplane.model.Mesh;
import dev.trellis.controlplane.model.MeshNode;
import dev.trellis.controlplane.model.Service;
import dev.trellis.controlplane.model.Workload;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The network {@code trellis up --netns} builds for a mesh file, decided without touching the machine: every node and
 * every workload ("pod") is a network namespace, as on a real cluster.
 *
 * <pre>
 *  host: trellis0 (gateway .254 of the nodes' /24; the control plane listens here)
 *    └─ trellis-hub: bridge br0 ── n0 ── trellis-node-NODE: eth0 = node address/24
 *                                          └─ pK ── trellis-pod-NS-NAME: eth0 = workload address/32,
 *                                                   default route via 169.254.1.1 (held by pK)
 * </pre>
 *
 * A node routes its own pods' /32s to their links and the other nodes' pods via those nodes. Nothing has a default
 * route out of the namespaces: traffic that is not steered by the mesh fails instead of leaving the machine. Each pod
 * also gets a cgroup v2 directory, where eBPF redirection attaches and its processes run. {@link #setup} and
 * {@link #teardown} are the {@code ip} commands (and the cgroup directories) in order; {@code teardown} removes
 * everything, and works on a half-built network.
 */
record NetnsPlan(String gateway, List<NodeNet> nodes, List<PodNet> pods, List<List<String>> setup,
    List<List<String>> teardown) {

  static final String HUB = "trellis-hub";
  static final String HOST_LINK = "trellis0";
  static final String POD_GATEWAY = "169.254.1.1";
  static final String CGROUP_DIR = "trellis-up";

  NetnsPlan {
    nodes = List.copyOf(nodes);
    pods = List.copyOf(pods);
    setup = List.copyOf(setup);
    teardown = List.copyOf(teardown);
  }

  /** A node's namespace, address and where its eBPF programs are pinned. */
  record NodeNet(String node, String netns, String address, String pins) {}

  /**
   * A workload's namespace, address and cgroup; {@code containerId} is what the CNI plugin is told.
   *
   * @param name {@code namespace/name} of the workload
   */
  record PodNet(String name, String namespace, String pod, String node, String netns, String address, String cgroup,
      String containerId, boolean inMesh) {}

  static String nodeNetns(String node) {
    return "trellis-node-" + node;
  }

  static String podNetns(Workload w) {
    return "trellis-pod-" + w.namespace() + "-" + w.name();
  }

  /**
   * Why the mesh cannot run in namespaces, one line per problem naming the field (empty when it can): addresses must
   * be IPv4 and routable between namespaces (not loopback or link-local), every node in one /24 whose .254 is free
   * for the host, no workload inside that /24, no service VIP on loopback.
   */
  static List<String> problems(Mesh mesh) {
    List<String> out = new ArrayList<>();
    if (mesh.nodes().isEmpty()) {
      out.add("nodes: the mesh has no node; add at least one under 'nodes'");
      return out;
    }
    String prefix = null;
    for (int i = 0; i < mesh.nodes().size(); i++) {
      MeshNode n = mesh.nodes().get(i);
      String field = "nodes[" + i + "].address";
      String why = unroutable(n.address());
      if (why != null) {
        out.add(field + ": " + n.address() + " " + why + "; with --netns nodes need addresses such as 10.61.0.1, "
            + "10.61.0.2 (examples/netns/mesh.yaml)");
        continue;
      }
      String p = prefix24(n.address());
      if (prefix == null) {
        prefix = p;
      } else if (!p.equals(prefix)) {
        out.add(field + ": " + n.address() + " is not in " + prefix + ".0/24 like nodes[0]: with --netns every node "
            + "is on one /24 link");
      }
      int last = lastOctet(n.address());
      if (last == 0 || last >= 254) {
        out.add(field + ": " + n.address() + " ends in ." + last + ": with --netns .0 and .255 are not host "
            + "addresses and .254 is the host's own (the control plane listens there); use .1 to .253");
      }
      if (nodeNetns(n.name()).length() > 255 || n.name().contains("/")) {
        out.add("nodes[" + i + "].name: '" + n.name() + "' cannot name a network namespace (no '/', at most 242 "
            + "characters)");
      }
    }
    Set<String> netns = new HashSet<>();
    for (int i = 0; i < mesh.workloads().size(); i++) {
      Workload w = mesh.workloads().get(i);
      String field = "workloads[" + i + "].address";
      String why = unroutable(w.address());
      if (why != null) {
        out.add(field + ": " + w.address() + " " + why + "; with --netns each workload is a pod with an address "
            + "such as 10.61.1.10, outside the nodes' /24");
      } else if (prefix != null && prefix24(w.address()).equals(prefix)) {
        out.add(field + ": " + w.address() + " is inside the nodes' /24 (" + prefix + ".0/24); with --netns pods "
            + "take addresses outside it, e.g. 10.61.1.10");
      }
      if (!netns.add(podNetns(w))) {
        out.add("workloads[" + i + "]: " + w.ref() + " gives the same namespace name as another workload ("
            + podNetns(w) + "); rename one");
      }
    }
    for (int i = 0; i < mesh.services().size(); i++) {
      Service s = mesh.services().get(i);
      if (s.vip() != null && isLoopback(s.vip())) {
        out.add("services[" + i + "].vip: " + s.vip() + " is a loopback address, which a pod reaches inside itself "
            + "and never through the mesh; use one such as 10.96.61.10");
      }
    }
    return out;
  }

  /**
   * The network for {@code mesh}, whose {@link #problems} must be empty.
   *
   * @param cgroupRoot the cgroup v2 mount (pods' cgroups go under {@code <root>/trellis-up/})
   */
  static NetnsPlan plan(Mesh mesh, Path cgroupRoot) {
    List<String> problems = problems(mesh);
    if (!problems.isEmpty()) {
      throw new IllegalArgumentException(String.join("; ", problems));
    }
    String gateway = prefix24(mesh.nodes().getFirst().address()) + ".254";
    Path cgroups = cgroupRoot.resolve(CGROUP_DIR);
    List<List<String>> setup = new ArrayList<>();
    setup.add(List.of("ip", "netns", "add", HUB));
    setup.add(List.of("ip", "-n", HUB, "link", "set", "lo", "up"));
    setup.add(List.of("ip", "-n", HUB, "link", "add", "br0", "type", "bridge"));
    setup.add(List.of("ip", "-n", HUB, "link", "set", "br0", "up"));
    setup.add(List.of("ip", "link", "add", HOST_LINK, "type", "veth", "peer", "name", "host", "netns", HUB));
    setup.add(List.of("ip", "-n", HUB, "link", "set", "host", "master", "br0", "up"));
    setup.add(List.of("ip", "addr", "add", gateway + "/24", "dev", HOST_LINK));
    setup.add(List.of("ip", "link", "set", HOST_LINK, "up"));
    setup.add(List.of("mkdir", "-p", cgroups.toString()));

    List<NodeNet> nodes = new ArrayList<>();
    List<PodNet> pods = new ArrayList<>();
    for (int i = 0; i < mesh.nodes().size(); i++) {
      MeshNode n = mesh.nodes().get(i);
      String ns = nodeNetns(n.name());
      nodes.add(new NodeNet(n.name(), ns, n.address(), "/sys/fs/bpf/trellis-up-" + n.name()));
      setup.add(List.of("ip", "netns", "add", ns));
      setup.add(List.of("ip", "-n", ns, "link", "set", "lo", "up"));
      setup.add(List.of("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"));
      // As docs/node-proxy-operations.md (Upgrade) asks of a node: connections queued on an upgraded node proxy's
      // listeners as it closes them move to its successor instead of being reset (Linux 5.14+; skipped before).
      setup.add(List.of("ip", "netns", "exec", ns, "sh", "-c", "test ! -e /proc/sys/net/ipv4/tcp_migrate_req || "
          + "sysctl -qw net.ipv4.tcp_migrate_req=1"));
      setup.add(List.of("ip", "link", "add", "n" + i, "netns", HUB, "type", "veth", "peer", "name", "eth0", "netns", ns));
      setup.add(List.of("ip", "-n", HUB, "link", "set", "n" + i, "master", "br0", "up"));
      setup.add(List.of("ip", "-n", ns, "addr", "add", n.address() + "/24", "dev", "eth0"));
      setup.add(List.of("ip", "-n", ns, "link", "set", "eth0", "up"));
    }
    int k = 0;
    for (Workload w : mesh.workloads()) {
      String node = nodeNetns(w.node());
      String ns = podNetns(w);
      String link = "p" + k++;
      Path cgroup = cgroups.resolve(w.namespace() + "." + w.name());
      pods.add(new PodNet(w.namespace() + "/" + w.name(), w.namespace(), w.name(), w.node(), ns, w.address(),
          cgroup.toString(), "trellis-up-" + w.namespace() + "-" + w.name(), w.inMesh()));
      setup.add(List.of("ip", "netns", "add", ns));
      setup.add(List.of("ip", "-n", ns, "link", "set", "lo", "up"));
      setup.add(List.of("ip", "link", "add", link, "netns", node, "type", "veth", "peer", "name", "eth0", "netns", ns));
      // The pod's gateway is the same link-local address on every pod link of the node (as Calico does): the pod
      // reaches its node, and through it the rest of the mesh, without a subnet of its own.
      setup.add(List.of("ip", "-n", node, "addr", "add", POD_GATEWAY + "/32", "dev", link));
      setup.add(List.of("ip", "-n", node, "link", "set", link, "up"));
      setup.add(List.of("ip", "-n", node, "route", "add", w.address() + "/32", "dev", link));
      setup.add(List.of("ip", "-n", ns, "addr", "add", w.address() + "/32", "dev", "eth0"));
      setup.add(List.of("ip", "-n", ns, "link", "set", "eth0", "up"));
      setup.add(List.of("ip", "-n", ns, "route", "add", POD_GATEWAY, "dev", "eth0", "scope", "link"));
      setup.add(List.of("ip", "-n", ns, "route", "add", "default", "via", POD_GATEWAY, "dev", "eth0"));
      setup.add(List.of("mkdir", "-p", cgroup.toString()));
      String nodeAddress = mesh.nodes().stream().filter(x -> x.name().equals(w.node())).findFirst().orElseThrow()
          .address();
      for (MeshNode other : mesh.nodes()) {
        if (!other.name().equals(w.node())) {
          setup.add(List.of("ip", "-n", nodeNetns(other.name()), "route", "add", w.address() + "/32", "via",
              nodeAddress, "dev", "eth0"));
        }
      }
    }

    // Deleting the host's end removes the pair at once (a namespace's links go asynchronously).
    List<List<String>> teardown = new ArrayList<>();
    teardown.add(List.of("ip", "link", "del", HOST_LINK));
    pods.forEach(p -> teardown.add(List.of("ip", "netns", "del", p.netns())));
    nodes.forEach(n -> teardown.add(List.of("ip", "netns", "del", n.netns())));
    teardown.add(List.of("ip", "netns", "del", HUB));
    pods.forEach(p -> teardown.add(List.of("rmdir", p.cgroup())));
    teardown.add(List.of("rmdir", cgroups.toString()));
    return new NetnsPlan(gateway, nodes, pods, setup, teardown);
  }

  /**
   * The node agent's pods file for {@code node}: every namespace with a workload is enrolled (labeled
   * {@code trellis.dev/mesh=enabled}); a workload with {@code inMesh: false} opts out with the pod label
   * {@code trellis.dev/mesh=disabled}; each pod names its cgroup.
   */
  String podsJson(String node) {
    JsonObject namespaces = new JsonObject();
    JsonArray list = new JsonArray();
    for (PodNet p : pods) {
      JsonObject enabled = new JsonObject();
      enabled.addProperty("trellis.dev/mesh", "enabled");
      namespaces.add(p.namespace(), enabled);
      if (!p.node().equals(node)) {
        continue;
      }
      JsonObject pod = new JsonObject();
      pod.addProperty("namespace", p.namespace());
      pod.addProperty("name", p.pod());
      pod.addProperty("uid", p.containerId());
      JsonObject labels = new JsonObject();
      if (!p.inMesh()) {
        labels.addProperty("trellis.dev/mesh", "disabled");
      }
      pod.add("labels", labels);
      pod.add("annotations", new JsonObject());
      pod.addProperty("cgroup", p.cgroup());
      list.add(pod);
    }
    JsonObject root = new JsonObject();
    root.add("namespaces", namespaces);
    root.add("pods", list);
    return root.toString();
  }

  /** One call of the CNI plugin: its {@code CNI_*} environment and the network configuration on its stdin. */
  record CniCall(Map<String, String> env, String config) {}

  /**
   * The CNI plugin call a container runtime makes for {@code pod} ({@code command} ADD or DEL), chained after a
   * network plugin that gave the pod its address; the plugin asks the node agent on {@code socket}.
   */
  static CniCall cniCall(PodNet pod, String command, String socket) {
    Map<String, String> env = new LinkedHashMap<>();
    env.put("CNI_COMMAND", command);
    env.put("CNI_CONTAINERID", pod.containerId());
    env.put("CNI_NETNS", "/var/run/netns/" + pod.netns());
    env.put("CNI_IFNAME", "eth0");
    env.put("CNI_PATH", "/opt/cni/bin");
    env.put("CNI_ARGS", "K8S_POD_NAMESPACE=" + pod.namespace() + ";K8S_POD_NAME=" + pod.pod() + ";K8S_POD_UID="
        + pod.containerId());
    JsonObject iface = new JsonObject();
    iface.addProperty("name", "eth0");
    iface.addProperty("sandbox", "/var/run/netns/" + pod.netns());
    JsonObject ip = new JsonObject();
    ip.addProperty("address", pod.address() + "/32");
    ip.addProperty("interface", 0);
    JsonObject prev = new JsonObject();
    prev.addProperty("cniVersion", "1.0.0");
    JsonArray ifaces = new JsonArray();
    ifaces.add(iface);
    prev.add("interfaces", ifaces);
    JsonArray ips = new JsonArray();
    ips.add(ip);
    prev.add("ips", ips);
    JsonObject config = new JsonObject();
    config.addProperty("cniVersion", "1.0.0");
    config.addProperty("name", "trellis-up");
    config.addProperty("type", "trellis-cni");
    config.addProperty("agentSocket", socket);
    config.addProperty("agentTimeoutMillis", 20000);
    config.add("prevResult", prev);
    return new CniCall(env, config.toString());
  }

  /** Why {@code address} cannot be routed between namespaces, or null when it can. */
  private static String unroutable(String address) {
    InetAddress ip;
    try {
      ip = InetAddress.ofLiteral(address);
    } catch (IllegalArgumentException e) {
      return "is not an IP address";
    }
    if (!(ip instanceof Inet4Address)) {
      return "is IPv6 (--netns builds IPv4 links)";
    }
    if (ip.isLoopbackAddress()) {
      return "is a loopback address (each namespace has its own loopback)";
    }
    if (ip.isLinkLocalAddress() || ip.isAnyLocalAddress() || ip.isMulticastAddress()) {
      return "is not a unicast address a namespace can route";
    }
    return null;
  }

  private static boolean isLoopback(String address) {
    try {
      return InetAddress.ofLiteral(address).isLoopbackAddress();
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  static String prefix24(String ipv4) {
    return ipv4.substring(0, ipv4.lastIndexOf('.'));
  }

  private static int lastOctet(String ipv4) {
    return Integer.parseInt(ipv4.substring(ipv4.lastIndexOf('.') + 1));
  }
}
