package dev.trellis.cli;

import dev.trellis.cli.local.LocalMesh;
import dev.trellis.cli.local.WorkloadRun;
import dev.trellis.cni.CniMain;
import dev.trellis.controlplane.ControlPlaneMain;
import dev.trellis.controlplane.model.MeshNode;
import dev.trellis.controlplane.model.MeshTelemetry;
import dev.trellis.controlplane.model.ObjectRef;
import dev.trellis.controlplane.model.Service;
import dev.trellis.controlplane.model.ServicePort;
import dev.trellis.controlplane.model.Workload;
import dev.trellis.demo.DemoMain;
import dev.trellis.proxy.NodeAgentMain;
import dev.trellis.proxy.NodeProxyMain;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * Decides what {@code trellis up} starts for a mesh file, in order (control plane, node proxies,
 * workloads): each process's command line, environment, log file and how to tell it is ready. No
 * I/O here; {@link UpCommand} does the starting.
 */
final class LaunchPlan {

  static final int CONTROL_PLANE_XDS = 15010;
  static final int CONTROL_PLANE_ADMIN = 15014;
  /** The node proxy's health and metrics ({@code /healthz/ready}, {@code /metrics}), on the node address. */
  static final int PROXY_ADMIN = 15020;
  /** The node proxy's debug admin ({@code /config_dump}, {@code /clusters}, {@code /connections}), loopback only. */
  static final int PROXY_DEBUG_ADMIN = 15000;
  static final int PROXY_ENTRY = 15001;

  /**
   * One process to start.
   *
   * @param ready what answers once it is ready: an {@code http://} URL that must return 200, or
   *     {@code host:port} pairs that must accept connections (none: ready once started)
   * @param secretFile a file (mode 0600) to write before starting, e.g. a node token, or null
   * @param ports the ports it listens on at {@code address}
   */
  record Launch(String name, RunState.Role role, List<String> command, Map<String, String> env, Path workDir,
      Path log, String address, List<Integer> ports, String admin, List<String> ready, Path secretFile,
      String secret) {}

  /**
   * Where the pieces live: java, the module class paths, the state folder; and the node proxies' telemetry (the
   * mesh file's {@code telemetry} section, or what {@code up}'s options made of it).
   */
  record Layout(String java, List<String> jvmOptions, String controlPlaneClasspath, String nodeProxyClasspath,
      String demoClasspath, Path stateDir, MeshTelemetry telemetry, List<String> nodeProxyJvmDefaults,
      List<String> controlPlaneJvmDefaults) {

    Layout(String java, List<String> jvmOptions, String controlPlaneClasspath, String nodeProxyClasspath,
        String demoClasspath, Path stateDir, MeshTelemetry telemetry) {
      this(java, jvmOptions, controlPlaneClasspath, nodeProxyClasspath, demoClasspath, stateDir, telemetry, List.of());
    }

    Layout(String java, List<String> jvmOptions, String controlPlaneClasspath, String nodeProxyClasspath,
        String demoClasspath, Path stateDir, MeshTelemetry telemetry, List<String> nodeProxyJvmDefaults) {
      this(java, jvmOptions, controlPlaneClasspath, nodeProxyClasspath, demoClasspath, stateDir, telemetry,
          nodeProxyJvmDefaults, List.of());
    }
  }

  private LaunchPlan() {}

  static List<Launch> plan(LocalMesh local, Path meshFile, Layout layout) {
    List<Launch> out = new ArrayList<>();
    out.add(controlPlane(meshFile, layout));
    for (MeshNode node : local.mesh().nodes()) {
      out.add(nodeProxy(node, layout));
    }
    for (Map.Entry<ObjectRef, WorkloadRun> e : local.runs().entrySet()) {
      Workload w = local.mesh().workloads().stream().filter(x -> x.namespace().equals(e.getKey().namespace())
          && x.name().equals(e.getKey().name())).findFirst().orElseThrow();
      out.add(workload(local, w, e.getValue(), meshFile, layout));
    }
    return out;
  }

  /**
   * The same processes inside the namespaces of {@code net} ({@code up --netns}): the control plane on the host at
   * the gateway address; per node its node agent ({@code redirect}: auto, ebpf or nftables) and its node proxy in
   * capture mode, in the node's namespace; each workload in its pod's namespace and cgroup. The node proxy learns
   * where eBPF pins live only once its agent has chosen ({@link #withEbpfPins}).
   */
  static List<Launch> plan(LocalMesh local, Path meshFile, Layout layout, NetnsPlan net, String redirect) {
    List<Launch> out = new ArrayList<>();
    Launch cp = controlPlane(meshFile, layout);
    List<String> cpCommand = new ArrayList<>(cp.command());
    cpCommand.addAll(List.of("--bind", net.gateway()));
    String cpAdmin = "http://" + net.gateway() + ":" + CONTROL_PLANE_ADMIN;
    out.add(new Launch(cp.name(), cp.role(), cpCommand, cp.env(), cp.workDir(), cp.log(), net.gateway(), cp.ports(),
        cpAdmin, List.of(cpAdmin + "/healthz/ready"), null, null));
    for (NetnsPlan.NodeNet n : net.nodes()) {
      List<String> agent = java(layout, layout.nodeProxyClasspath(), NodeAgentMain.class.getName());
      agent.addAll(List.of("--pods", podsFile(layout, n.node()).toString(), "--socket",
          agentSocket(layout, n.node()).toString(), "--redirect", redirect, "--proxy-address", n.address(),
          "--state-file", agentState(layout, n.node()).toString(),
          "--ebpf-pins", n.pins()));
      out.add(new Launch(n.node(), RunState.Role.NODE_AGENT, inNetns(n.netns(), null, agent), Map.of(),
          layout.stateDir(), log(layout, n.node() + ".agent"), n.address(), List.of(), null,
          List.of(LOG_PROBE + AGENT_UP), null, null));
    }
    for (MeshNode node : local.mesh().nodes()) {
      Launch p = nodeProxy(node, layout);
      List<String> command = new ArrayList<>(p.command());
      command.addAll(List.of("--control-plane", net.gateway() + ":" + CONTROL_PLANE_XDS, "--capture", "transparent",
          "--agent-state", agentState(layout, node.name()).toString())); // passthrough from inside pods' namespaces
      String netns = NetnsPlan.nodeNetns(node.name());
      out.add(new Launch(p.name(), p.role(), inNetns(netns, null, command), p.env(), p.workDir(), p.log(), p.address(),
          List.of(PROXY_ENTRY, 15006, 15008, PROXY_ADMIN), p.admin(), p.ready(), p.secretFile(), p.secret()));
    }
    for (Map.Entry<ObjectRef, WorkloadRun> e : local.runs().entrySet()) {
      Workload w = local.mesh().workloads().stream().filter(x -> x.ref().equals(e.getKey())).findFirst().orElseThrow();
      NetnsPlan.PodNet pod = net.pods().stream().filter(x -> x.name().equals(w.namespace() + "/" + w.name()))
          .findFirst().orElseThrow();
      Launch l = workload(local, w, e.getValue(), meshFile, layout);
      Map<String, String> env = new LinkedHashMap<>(l.env());
      env.remove("TRELLIS_NODE_ENTRY"); // captured transparently: no entry to dial
      out.add(new Launch(l.name(), l.role(), inNetns(pod.netns(), Path.of(pod.cgroup()), l.command()), env, l.workDir(),
          l.log(), l.address(), l.ports(), null, l.ports().stream().map(port -> NETNS_PROBE + pod.netns() + ":"
              + w.address() + ":" + port).toList(), null, null));
    }
    return out;
  }

  /**
   * Where the CLI reads a node proxy's debug admin ({@code /config_dump}, ...), which listens on loopback only: in a
   * local run the node's own loopback address (127.0.N.1:15000); in an {@code up --netns} run 127.0.0.1:15000 inside
   * the node's namespace, fetched from there ({@link #NETNS_PROBE} form, see {@code LocalProcesses.fetch}).
   */
  static String proxyDebugAdmin(RunState state, RunState.Entry proxy) {
    if (state.network() != null) {
      return NETNS_PROBE + NetnsPlan.nodeNetns(proxy.name()) + ":http://127.0.0.1:" + PROXY_DEBUG_ADMIN;
    }
    return "http://" + proxy.address() + ":" + PROXY_DEBUG_ADMIN;
  }

  /** A readiness probe that waits for a line in the process's log. */
  static final String LOG_PROBE = "log:";
  /** A readiness probe {@code file:PATH}: the process wrote that file (a node proxy's {@code --ready-file}). */
  static final String FILE_PROBE = "file:";
  /** A readiness probe {@code netns:NAMESPACE:host:port}: the port accepts a connection inside that namespace. */
  static final String NETNS_PROBE = "netns:";
  /** What the node agent prints once it serves the CNI plugin. */
  static final String AGENT_UP = "trellis node agent up";

  /** The node proxy of a node whose agent redirects with eBPF: it reads original destinations from the pins. */
  static Launch withEbpfPins(Launch proxy, String pins) {
    List<String> command = new ArrayList<>(proxy.command());
    command.addAll(List.of("--ebpf-pins", pins));
    return new Launch(proxy.name(), proxy.role(), command, proxy.env(), proxy.workDir(), proxy.log(), proxy.address(),
        proxy.ports(), proxy.admin(), proxy.ready(), proxy.secretFile(), proxy.secret());
  }

  /** A node proxy with {@code --drain-timeout} (other processes unchanged); a restart keeps it (its command line). */
  static Launch withDrainTimeout(Launch launch, Duration drainTimeout) {
    if (launch.role() != RunState.Role.NODE_PROXY) {
      return launch;
    }
    List<String> command = new ArrayList<>(launch.command());
    command.addAll(List.of("--drain-timeout", drainTimeout.toMillis() + "ms"));
    return new Launch(launch.name(), launch.role(), command, launch.env(), launch.workDir(), launch.log(),
        launch.address(), launch.ports(), launch.admin(), launch.ready(), launch.secretFile(), launch.secret());
  }

  /**
   * {@code command} run inside network namespace {@code netns} and, when not null, cgroup {@code cgroup} (as a pod's
   * container runs). Only the network namespace changes: the process keeps the host's view of /sys, where cgroups
   * and pinned eBPF programs live. The pid stays the command's own (the shell and nsenter exec it).
   */
  static List<String> inNetns(String netns, Path cgroup, List<String> command) {
    List<String> out = new ArrayList<>();
    String enter = "exec nsenter --net=/var/run/netns/\"$0\" \"$@\"";
    out.addAll(List.of("sh", "-c", (cgroup == null ? "" : "echo $$ > '" + cgroup.resolve("cgroup.procs") + "' && ")
        + enter, netns));
    out.addAll(command);
    return out;
  }

  /** The node agent's uninstall for node {@code n}, in its namespace: removes every rule and eBPF pin it made. */
  static List<String> agentUninstall(Layout layout, NetnsPlan.NodeNet n, String redirect) {
    List<String> command = java(layout, layout.nodeProxyClasspath(), NodeAgentMain.class.getName());
    command.addAll(List.of("uninstall", "--redirect", redirect, "--ebpf-pins", n.pins()));
    return inNetns(n.netns(), null, command);
  }

  /** The CNI plugin ({@code trellis-cni}), run once per call with the call's environment and stdin. */
  static List<String> cniPlugin(Layout layout) {
    return java(layout, layout.nodeProxyClasspath(), CniMain.class.getName());
  }

  /** The network namespace a command made by {@link #inNetns} enters, if it is one. */
  static Optional<String> netnsOf(List<String> command) {
    return command.size() > 3 && command.get(0).equals("sh") && command.get(1).equals("-c")
        && command.get(2).contains("nsenter --net=/var/run/netns/") ? Optional.of(command.get(3))
        : Optional.empty();
  }

  /** The node agent's pods file: the local stand-in for the API server's pods and namespace labels. */
  static Path podsFile(Layout layout, String node) {
    return layout.stateDir().resolve(node + ".pods.json").toAbsolutePath();
  }

  /** Where the node agent keeps the pods it captured (a fresh run starts without one). */
  static Path agentState(Layout layout, String node) {
    return layout.stateDir().resolve(node + ".agent-state.json").toAbsolutePath();
  }

  /** The Unix socket the node agent serves the CNI plugin on. */
  static Path agentSocket(Layout layout, String node) {
    return layout.stateDir().resolve(node + ".cni.sock").toAbsolutePath();
  }

  static Launch controlPlane(Path meshFile, Layout layout) {
    List<String> command = java(layout, layout.controlPlaneClasspath(), ControlPlaneMain.class.getName());
    // The control plane's JVM defaults first: TRELLIS_JAVA_OPTS, after them, wins.
    command.addAll(1, layout.controlPlaneJvmDefaults());
    command.addAll(List.of("control-plane", "--mesh", meshFile.toAbsolutePath().toString(), "--state-dir",
        layout.stateDir().resolve("control-plane").toAbsolutePath().toString()));
    String admin = "http://127.0.0.1:" + CONTROL_PLANE_ADMIN;
    return new Launch("control-plane", RunState.Role.CONTROL_PLANE, command, Map.of(), layout.stateDir(),
        log(layout, "control-plane"), "127.0.0.1", List.of(CONTROL_PLANE_XDS, 15012, CONTROL_PLANE_ADMIN), admin, List.of(admin + "/healthz/ready"), null, null);
  }

  static Launch nodeProxy(MeshNode node, Layout layout) {
    Path token = layout.stateDir().resolve(node.name() + ".token").toAbsolutePath();
    List<String> command = java(layout, layout.nodeProxyClasspath(), NodeProxyMain.class.getName());
    // The node proxy's JVM defaults first: TRELLIS_JAVA_OPTS, after them, wins.
    command.addAll(1, layout.nodeProxyJvmDefaults());
    command.addAll(List.of("--node", node.name(), "--address", node.address(), "--token-file", token.toString()));
    command.addAll(layout.telemetry().nodeProxyFlags(node.name()));
    if (layout.telemetry().enabled() && layout.telemetry().accessLog() == null) {
      // A local run keeps each node's access log beside its process log unless the mesh file says otherwise.
      command.addAll(List.of("--access-log", accessLog(layout, node.name()).toString()));
    }
    String admin = "http://" + node.address() + ":" + PROXY_ADMIN;
    return new Launch(node.name(), RunState.Role.NODE_PROXY, command, Map.of(), layout.stateDir(),
        log(layout, node.name()), node.address(), List.of(PROXY_ENTRY, 15006, 15008, PROXY_ADMIN, PROXY_DEBUG_ADMIN), admin,
        List.of(admin + "/healthz/ready"), token, node.token());
  }

  static Launch workload(LocalMesh local, Workload w, WorkloadRun run, Path meshFile, Layout layout) {
    List<Integer> ports = ports(local, w);
    String name = w.namespace() + "/" + w.name();
    if (run instanceof WorkloadRun.Demo && ports.isEmpty()) {
      throw new IllegalArgumentException("workload " + name + " runs a demo service but no service selects it, so "
          + "it has no port to listen on; add a service whose selector matches its labels " + w.labels());
    }
    Map<String, String> env = new LinkedHashMap<>(run.env());
    env.put("TRELLIS_WORKLOAD_NAME", w.name());
    env.put("TRELLIS_WORKLOAD_NAMESPACE", w.namespace());
    env.put("TRELLIS_WORKLOAD_VERSION", w.labels().getOrDefault("version", ""));
    env.put("TRELLIS_WORKLOAD_ADDRESS", w.address());
    env.put("TRELLIS_WORKLOAD_PORTS", ports.stream().map(String::valueOf).collect(Collectors.joining(",")));
    String node = local.mesh().nodes().stream().filter(n -> n.name().equals(w.node())).findFirst().orElseThrow()
        .address();
    env.put("TRELLIS_NODE_ENTRY", node + ":" + PROXY_ENTRY);
    List<String> command = switch (run) {
      case WorkloadRun.Demo demo -> {
        env.put("TRELLIS_DEMO_FAIL_RATE", String.valueOf(demo.failRate()));
        env.put("TRELLIS_DEMO_LATENCY_MS", String.valueOf(demo.latency().toMillis()));
        List<String> c = java(layout, layout.demoClasspath(), DemoMain.class.getName());
        c.add(demo.kind().name().toLowerCase(Locale.ROOT));
        yield c;
      }
      case WorkloadRun.Command c -> c.command();
    };
    Path dir = meshFile.toAbsolutePath().getParent();
    return new Launch(name, RunState.Role.WORKLOAD, command, env, dir, log(layout, w.namespace() + "." + w.name()),
        w.address(), ports, null, ports.stream().map(p -> w.address() + ":" + p).toList(), null, null);
  }

  /** The target ports of every service that selects the workload, sorted. */
  static List<Integer> ports(LocalMesh local, Workload w) {
    TreeSet<Integer> ports = new TreeSet<>();
    for (Service s : local.mesh().services()) {
      if (s.namespace().equals(w.namespace()) && !s.selector().isEmpty()
          && w.labels().entrySet().containsAll(s.selector().entrySet())) {
        s.ports().stream().map(ServicePort::targetPort).forEach(ports::add);
      }
    }
    return List.copyOf(ports);
  }

  private static List<String> java(Layout layout, String classpath, String main) {
    List<String> c = new ArrayList<>();
    c.add(layout.java());
    c.addAll(layout.jvmOptions());
    c.addAll(List.of("-cp", classpath, main));
    return c;
  }

  /** Where a node's access log goes when the mesh file names none. */
  static Path accessLog(Layout layout, String node) {
    return layout.stateDir().resolve(node + ".access.log").toAbsolutePath();
  }

  private static Path log(Layout layout, String name) {
    return layout.stateDir().resolve(name + ".log").toAbsolutePath();
  }
}
