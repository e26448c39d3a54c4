package dev.trellis.cli;

import dev.trellis.controlplane.model.Mesh;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.Inet4Address;
import java.net.InterfaceAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The namespace half of {@code trellis up --netns} and {@code trellis down}: checks the host, builds the
 * {@link NetnsPlan}'s network, writes each node agent's pods file, attaches every pod through the CNI plugin (as a
 * container runtime would) once the agents serve, and removes everything again, checking that nothing is left.
 */
final class NetnsUp {

  private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(60);
  private final NetnsPlan net;
  private final LaunchPlan.Layout layout;
  private final Map<String, String> agentModes = new HashMap<>();
  private boolean attached;
  private final RunState.Network network;

  NetnsUp(NetnsPlan net, LaunchPlan.Layout layout, RunState.Network network) {
    this.net = net;
    this.layout = layout;
    this.network = network;
  }

  /** Why {@code up --netns} cannot run {@code mesh} on this host, one line each with its fix (empty: it can). */
  static List<String> problems(Mesh mesh, String redirect) {
    List<String> out = new ArrayList<>();
    if (!Set.of("auto", "ebpf", "nftables").contains(redirect)) {
      out.add("--redirect '" + redirect + "': expected auto, ebpf or nftables");
    }
    if (!HostCommands.root()) {
      out.add("--netns needs root (it creates network namespaces, links, cgroups and redirection rules): run it "
          + "with sudo, or leave out --netns to run on loopback addresses");
      return out; // the programs are looked up on root's search path, which has the sbin folders a user's may lack
    }
    out.addAll(NetnsPrograms.missing(NetnsPrograms::onPath));
    if (HostCommands.cgroup2Mount().isEmpty()) {
      out.add("no cgroup v2 mount in /proc/mounts: pods run in cgroup v2 directories; mount it (mount -t cgroup2 "
          + "none /sys/fs/cgroup/unified) or see 'trellis check --host'");
    }
    if (HostCommands.netnsExists(NetnsPlan.HUB) || HostCommands.linkExists(NetnsPlan.HOST_LINK)) {
      out.add("another --netns run's network is on this host (namespace " + NetnsPlan.HUB + " or link "
          + NetnsPlan.HOST_LINK + "): stop that run with 'trellis down', or remove them: ip link del "
          + NetnsPlan.HOST_LINK + "; ip netns del " + NetnsPlan.HUB);
    }
    List<String> plan = NetnsPlan.problems(mesh);
    out.addAll(plan);
    if (plan.isEmpty()) {
      String prefix = NetnsPlan.prefix24(mesh.nodes().getFirst().address());
      hostAddressIn(prefix).ifPresent(a -> out.add("nodes: this host already has " + a + ", inside the nodes' /24 ("
          + prefix + ".0/24): give the nodes addresses in a /24 this host does not use"));
    }
    return out;
  }

  /** An address of this host inside {@code prefix}.0/24, with its interface, if any. */
  private static Optional<String> hostAddressIn(String prefix) {
    try {
      for (NetworkInterface i : Collections.list(NetworkInterface.getNetworkInterfaces())) {
        for (InterfaceAddress a : i.getInterfaceAddresses()) {
          if (a.getAddress() instanceof Inet4Address v4 && v4.getHostAddress().startsWith(prefix + ".")) {
            return Optional.of(v4.getHostAddress() + " on " + i.getName());
          }
        }
      }
    } catch (SocketException e) {
      return Optional.empty();
    }
    return Optional.empty();
  }

  /** What {@code down} needs to undo the run: each node agent's uninstall (in its namespace), then the network. */
  static RunState.Network network(NetnsPlan net, LaunchPlan.Layout layout, String redirect) {
    List<List<String>> teardown = new ArrayList<>();
    for (NetnsPlan.NodeNet n : net.nodes()) {
      teardown.add(LaunchPlan.agentUninstall(layout, n, redirect));
    }
    teardown.addAll(net.teardown());
    return new RunState.Network(net.gateway(), net.nodes(), net.pods(), teardown);
  }

  /** Builds the network and writes the agents' pods files; on failure says which command failed and why. */
  Optional<String> build() {
    for (List<String> command : net.setup()) {
      HostCommands.Result r = HostCommands.run(command, Map.of(), "", COMMAND_TIMEOUT);
      if (!r.ok()) {
        return Optional.of("building the namespaces failed at '" + String.join(" ", command) + "' (exit " + r.exit()
            + "): " + r.output());
      }
    }
    return writeAgentFiles();
  }

  /** Each node agent's pods file, and no earlier run's agent state or socket; on failure says why. */
  Optional<String> writeAgentFiles() {
    try {
      for (NetnsPlan.NodeNet n : net.nodes()) {
        Files.writeString(LaunchPlan.podsFile(layout, n.node()), net.podsJson(n.node()), StandardCharsets.UTF_8);
        // An earlier run's agent state names pods of namespaces that are gone: each run's agents start afresh.
        Files.deleteIfExists(LaunchPlan.agentState(layout, n.node()));
        Files.deleteIfExists(LaunchPlan.agentSocket(layout, n.node()));
      }
    } catch (IOException e) {
      return Optional.of("cannot write a node agent's pods file in " + layout.stateDir() + ": " + e.getMessage());
    }
    return Optional.empty();
  }

  /** Notes how the node agent of {@code agent} redirects (from the line it prints when up) and returns it. */
  String agentReady(LaunchPlan.Launch agent) {
    String line = LocalProcesses.tail(agent.log(), 200).stream().filter(l -> l.contains(LaunchPlan.AGENT_UP))
        .reduce((a, b) -> b).orElse("");
    String mode = line.contains("eBPF outbound") ? "eBPF" : "nftables";
    agentModes.put(agent.name(), mode);
    return mode + " redirection";
  }

  /** The node proxy as its node's agent needs it: with the eBPF pins when the agent redirects with eBPF. */
  LaunchPlan.Launch forRedirection(LaunchPlan.Launch proxy) {
    if (!"eBPF".equals(agentModes.get(proxy.name()))) {
      return proxy;
    }
    String pins = net.nodes().stream().filter(n -> n.node().equals(proxy.name())).findFirst().orElseThrow().pins();
    return LaunchPlan.withEbpfPins(proxy, pins);
  }

  /**
   * Attaches every pod through the CNI plugin (once, after all node agents serve): the agent installs its
   * redirection before the pod's processes start, as on a cluster.
   */
  Optional<String> attachPods(PrintWriter out) {
    if (attached) {
      return Optional.empty();
    }
    attached = true;
    for (NetnsPlan.PodNet pod : net.pods()) {
      NetnsPlan.CniCall call = NetnsPlan.cniCall(pod, "ADD", LaunchPlan.agentSocket(layout, pod.node()).toString());
      HostCommands.Result r = HostCommands.run(LaunchPlan.cniPlugin(layout), call.env(), call.config(), COMMAND_TIMEOUT);
      if (!r.ok()) {
        return Optional.of("the CNI plugin could not attach pod " + pod.name() + " (exit " + r.exit() + "): "
            + r.output());
      }
      out.printf("  %-14s %-28s attached (%s in %s, %s)%n", "pod", pod.name(), pod.address(), pod.netns(),
          pod.inMesh() ? "captured" : "not in the mesh");
      out.flush();
    }
    return Optional.empty();
  }

  /** Where the node proxies reach the control plane, and what a host firewall must let through. */
  String controlPlaneHint() {
    return "In namespaces the node proxy dials the control plane at " + net.gateway() + ":" + LaunchPlan.CONTROL_PLANE_XDS + " through the host link "
        + NetnsPlan.HOST_LINK + ": a host firewall must accept that link (ufw allow in on " + NetnsPlan.HOST_LINK
        + ").";
  }

  /** Removes the run's network (see {@link #teardown}), saying what it could not remove and how to. */
  void remove(PrintWriter err) {
    List<String> left = teardown(network, err);
    if (!left.isEmpty()) {
      err.println("warning: not all of the run's network could be removed; still there:");
      left.forEach(l -> err.println("  " + l));
    }
  }

  /**
   * Runs every teardown command (each node agent's uninstall, then the links, namespaces and cgroups), going on past
   * failures, and returns what is still there afterwards, each with how to remove it (empty: nothing is left).
   * Commands for things already gone fail quietly.
   */
  static List<String> teardown(RunState.Network network, PrintWriter err) {
    for (List<String> command : network.teardown()) {
      if (!stillThere(command)) {
        continue;
      }
      HostCommands.Result r = HostCommands.run(command, Map.of(), "", COMMAND_TIMEOUT);
      if (!r.ok() && stillThere(command)) {
        err.println("warning: '" + String.join(" ", command) + "' failed (exit " + r.exit() + "): " + r.output());
      }
    }
    List<String> left = new ArrayList<>();
    if (HostCommands.linkExists(NetnsPlan.HOST_LINK)) {
      left.add("link " + NetnsPlan.HOST_LINK + " (ip link del " + NetnsPlan.HOST_LINK + ")");
    }
    List<String> namespaces = new ArrayList<>();
    network.pods().forEach(p -> namespaces.add(p.netns()));
    network.nodes().forEach(n -> namespaces.add(n.netns()));
    namespaces.add(NetnsPlan.HUB);
    namespaces.stream().filter(HostCommands::netnsExists).forEach(n -> left.add("network namespace " + n
        + " (ip netns del " + n + ")"));
    network.pods().stream().filter(p -> Files.exists(Path.of(p.cgroup()))).forEach(p -> left.add("cgroup "
        + p.cgroup() + " (rmdir it once no process is in it)"));
    network.nodes().stream().filter(n -> Files.exists(Path.of(n.pins()))).forEach(n -> left.add("eBPF pins "
        + n.pins() + " (trellis node-agent uninstall --ebpf-pins " + n.pins() + ")"));
    return left;
  }

  /** Whether what a teardown command removes may still exist (so that a second {@code down} stays quiet). */
  private static boolean stillThere(List<String> command) {
    if (command.size() == 4 && command.get(0).equals("ip") && command.get(1).equals("netns")) {
      return HostCommands.netnsExists(command.get(3));
    }
    if (command.size() == 4 && command.get(0).equals("ip") && command.get(1).equals("link")) {
      return HostCommands.linkExists(command.get(3));
    }
    if (command.size() == 2 && command.get(0).equals("rmdir")) {
      return Files.exists(Path.of(command.get(1)));
    }
    // A node agent's uninstall runs in its node's namespace: only while that namespace exists.
    return LaunchPlan.netnsOf(command).map(HostCommands::netnsExists).orElse(true);
  }
}
