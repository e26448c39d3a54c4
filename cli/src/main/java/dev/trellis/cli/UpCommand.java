package dev.trellis.cli;

import dev.trellis.cli.local.LocalMesh;
import dev.trellis.controlplane.DurationConverter;
import dev.trellis.controlplane.config.MeshFileException;
import dev.trellis.controlplane.model.Mesh;
import dev.trellis.controlplane.model.MeshTelemetry;
import dev.trellis.controlplane.model.Service;
import dev.trellis.controlplane.model.Workload;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code trellis up}: a whole mesh on this machine, as background processes that outlive the command. */
@Command(name = "up", mixinStandardHelpOptions = true, description = {
    "Start a whole mesh on this machine, in the background.",
    "Starts the control plane, one node proxy per node of the mesh file and a process for each workload",
    "with a 'run' field (docs/mesh-file.md), and waits until each is ready.",
    "Logs and the run state go to --state-dir. Then: trellis status, trellis config-dump NODE, trellis down.",
    "With --netns (as root) every node and workload gets its own network namespace and pod traffic is captured",
    "transparently, as on a cluster; 'trellis exec WORKLOAD -- COMMAND' runs a command in a pod."})
final class UpCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "MESH_FILE", description = "The mesh file, e.g. examples/demo/mesh.yaml")
  Path mesh;

  @Option(names = "--state-dir", defaultValue = ".trellis/run",
      description = "Run state, logs and the control plane's CA (default: ${DEFAULT-VALUE}).")
  Path stateDir;

  @Option(names = "--home", description = "The Trellis checkout whose built modules are run (default: $TRELLIS_HOME, "
      + "which ./trellis sets).")
  Path home;

  @Option(names = "--timeout", defaultValue = "120s", converter = DurationConverter.class,
      description = "How long each process may take to become ready (default: ${DEFAULT-VALUE}).")
  Duration timeout;

  @Option(names = "--zipkin", description = "Send every request's spans to this Zipkin URL (e.g. "
      + "http://127.0.0.1:9411/api/v2/spans), or 'none' for no span export; default: the mesh file's telemetry "
      + "section.")
  String zipkin;

  @Option(names = "--drain-timeout", converter = DurationConverter.class, paramLabel = "DURATION",
      description = "Every node proxy's --drain-timeout: how long a proxy that got SIGTERM (trellis restart NODE, "
          + "trellis down) lets in-flight requests and streams finish (default: the node proxy's, 20s).")
  Duration drainTimeout;

  @Option(names = "--netns", description = {"Run each node and workload in its own network namespace, with pod traffic "
      + "captured transparently (eBPF or nftables) as on a cluster: workloads call service VIPs directly "
      + "('trellis exec'). Needs root, a mesh file with routable addresses (examples/netns/mesh.yaml) and the "
      + "programs ip (iproute2), nsenter (util-linux), nft (nftables), sysctl (procps) and bash (bash); they are "
      + "checked before anything is created."})
  boolean netns;

  @Option(names = "--redirect", defaultValue = "auto", paramLabel = "MODE", description = "With --netns: how pod "
      + "traffic is redirected: auto (eBPF where it works, else nftables), ebpf or nftables (default: ${DEFAULT-VALUE}).")
  String redirect;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    LocalMesh local;
    try {
      local = LocalMesh.load(mesh);
    } catch (MeshFileException e) {
      err.println("error: the mesh file cannot be used:");
      e.problems().forEach(p -> err.println("  " + p));
      return 2;
    }
    Optional<String> refusal = refusal(out);
    if (refusal.isPresent()) {
      err.println("error: " + refusal.get());
      return 1;
    }
    NetnsPlan net = null;
    if (!netns && !redirect.equals("auto")) {
      err.println("error: --redirect " + redirect + " applies to namespace runs: add --netns (as root), or leave "
          + "--redirect out (a loopback run takes traffic through each node's entry, not by redirection)");
      return 2;
    }
    if (netns) {
      List<String> problems = NetnsUp.problems(local.mesh(), redirect);
      if (!problems.isEmpty()) {
        err.println("error: --netns cannot run this mesh here:");
        problems.forEach(p -> err.println("  " + p));
        return 2;
      }
      net = NetnsPlan.plan(local.mesh(), HostCommands.cgroup2Mount().orElseThrow());
    }
    LaunchPlan.Layout layout = layout(local.mesh().telemetry());
    List<LaunchPlan.Launch> plan = net == null ? LaunchPlan.plan(local, mesh, layout)
        : LaunchPlan.plan(local, mesh, layout, net, redirect);
    if (drainTimeout != null) {
      plan = plan.stream().map(l -> LaunchPlan.withDrainTimeout(l, drainTimeout)).toList();
    }
    LocalProcesses processes = new LocalProcesses(Clock.systemUTC());
    RunState state = new RunState(mesh.toAbsolutePath().normalize().toString(), Clock.systemUTC().instant().toString(),
        List.of(), net == null ? null : NetnsUp.network(net, layout, redirect));
    List<ProcessHandle> started = new ArrayList<>();
    NetnsUp netUp = net == null ? null : new NetnsUp(net, layout, state.network());
    if (netUp != null) {
      state.write(stateDir); // first: whatever happens next, 'trellis down' knows what to remove
      out.println("Building " + net.nodes().size() + " node and " + net.pods().size() + " pod network namespaces "
          + "(host link " + NetnsPlan.HOST_LINK + ", " + net.gateway() + ")...");
      out.flush();
      Optional<String> failed = netUp.build();
      if (failed.isPresent()) {
        err.println("error: " + failed.get());
        netUp.remove(err);
        RunState.delete(stateDir);
        return 1;
      }
    }
    out.println("Starting the mesh in " + mesh + " (" + local.mesh().nodes().size() + " node(s), "
        + local.runs().size() + " workload process(es)); logs in " + stateDir.toAbsolutePath());
    for (LaunchPlan.Launch planned : plan) {
      LaunchPlan.Launch launch = planned;
      if (netUp != null && launch.role() == RunState.Role.NODE_PROXY) {
        Optional<String> failed = netUp.attachPods(out);
        if (failed.isPresent()) {
          fail(err, launch, failed.get(), processes, started, netUp);
          return 1;
        }
        launch = netUp.forRedirection(launch);
      }
      out.printf("  %-14s %-28s starting...%n", describe(launch.role()), launch.name());
      out.flush();
      ProcessHandle p;
      try {
        p = processes.start(launch);
      } catch (UncheckedIOException e) {
        fail(err, launch, e.getMessage(), processes, started, netUp);
        deleteSecrets(plan);
        return 1;
      }
      started.add(p);
      state = state.with(new RunState.Entry(launch.name(), launch.role(), p.pid(), launch.log().toString(),
          launch.address(), launch.ports(), launch.admin(), LocalProcesses.startOf(p),
          new RunState.Relaunch(launch.command(), launch.env(), launch.workDir().toString())));
      state.write(stateDir);
      Optional<String> failure = processes.awaitReady(launch, p, timeout);
      if (failure.isPresent()) {
        fail(err, launch, failure.get(), processes, started, netUp);
        deleteSecrets(plan);
        return 1;
      }
      String how = netUp != null && launch.role() == RunState.Role.NODE_AGENT ? ", " + netUp.agentReady(launch) : "";
      out.printf("  %-14s %-28s ready (pid %d%s)%n", describe(launch.role()), launch.name(), p.pid(), how);
      out.flush();
    }
    printNext(out, local.mesh(), net);
    return 0;
  }

  /** Why a new run must not start here, if it must not. */
  private Optional<String> refusal(PrintWriter out) {
    Optional<RunState> previous = RunState.read(stateDir);
    if (previous.isPresent()) {
      boolean alive = previous.get().processes().stream().anyMatch(e -> LocalProcesses.find(e).isPresent());
      if (alive) {
        return Optional.of("a run is already up (mesh " + previous.get().meshFile() + ", state in "
            + stateDir.toAbsolutePath() + "); stop it first with 'trellis down"
            + (stateDir.equals(Path.of(".trellis/run")) ? "" : " --state-dir " + stateDir) + "'");
      }
      out.println("(an earlier run in " + stateDir + " has no process left; replacing its state)");
      RunState.delete(stateDir);
    }
    LocalProcesses probe = new LocalProcesses(Clock.systemUTC());
    if (probe.answers("127.0.0.1:" + LaunchPlan.CONTROL_PLANE_ADMIN)) {
      return Optional.of("127.0.0.1:" + LaunchPlan.CONTROL_PLANE_ADMIN + " is in use: another control plane (or "
          + "another program) runs on this machine; stop it, or 'trellis down' the run that started it");
    }
    return Optional.empty();
  }

  private void fail(PrintWriter err, LaunchPlan.Launch launch, String why, LocalProcesses processes,
      List<ProcessHandle> started, NetnsUp netUp) {
    err.println("error: " + why + ". Last lines of " + launch.log() + ":");
    LocalProcesses.tail(launch.log(), 20).forEach(l -> err.println("  | " + l));
    err.println(hint(launch));
    if (netUp != null && launch.role() == RunState.Role.NODE_PROXY) {
      err.println(netUp.controlPlaneHint());
    }
    err.println("Stopping the " + started.size() + " process(es) this run started...");
    err.flush();
    processes.stop(started, Duration.ofSeconds(5));
    if (netUp != null) {
      netUp.remove(err);
    }
    RunState.delete(stateDir);
  }

  private static void deleteSecrets(List<LaunchPlan.Launch> plan) throws IOException {
    for (LaunchPlan.Launch l : plan) {
      if (l.secretFile() != null) {
        Files.deleteIfExists(l.secretFile());
      }
    }
  }

  private static String hint(LaunchPlan.Launch launch) {
    return switch (launch.role()) {
      case CONTROL_PLANE -> "Fix: read the log above; a port in use (15010, 15012, 15014 on 127.0.0.1) means another "
          + "control plane runs; 'trellis control-plane --mesh FILE' shows mesh file problems directly.";
      case NODE_AGENT -> "Fix: the node agent needs root, nftables ('nft') and, for eBPF, bpffs and cgroup v2; "
          + "'trellis check --host' says what is missing, and --redirect nftables avoids eBPF.";
      case NODE_PROXY -> "Fix: a node proxy needs its node address (" + launch.address() + ") to be free on ports "
          + "15001, 15006, 15008, 15020, 15000 and the control plane to accept its token; see the log above. A node address "
          + "that is not loopback (such as 10.61.0.1) is for 'trellis up --netns' (as root).";
      case WORKLOAD -> "Fix: the workload must listen on $TRELLIS_WORKLOAD_ADDRESS and each port in "
          + "$TRELLIS_WORKLOAD_PORTS (" + String.join(", ", launch.ready()) + "); see the log above.";
    };
  }

  private LaunchPlan.Layout layout(MeshTelemetry fromFile) throws IOException {
    Path root = home != null ? home : Optional.ofNullable(System.getenv("TRELLIS_HOME")).map(Path::of)
        .orElseThrow(() -> new IllegalStateException("TRELLIS_HOME is not set: run 'trellis up' through the ./trellis "
            + "launcher at the repository root, or give --home <checkout>"));
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> jvm = jvmOptions(System.getenv("TRELLIS_JAVA_OPTS"));
    return new LaunchPlan.Layout(java, jvm, classpath(root, "control-plane"), classpath(root, "node-proxy"),
        classpath(root, "demo"), stateDir.toAbsolutePath(), telemetry(fromFile, zipkin),
        argumentFile(root.resolve(NODE_PROXY_JVM_DEFAULTS)), argumentFile(root.resolve(CONTROL_PLANE_JVM_DEFAULTS)));
  }

  private static List<String> argumentFile(Path file) {
    return Files.isRegularFile(file) ? List.of("@" + file.toAbsolutePath()) : List.of();
  }

  /** The node proxy's JVM defaults, a java @argument file in the checkout (also read by ./trellis node-proxy). */
  static final String NODE_PROXY_JVM_DEFAULTS = "node-proxy/src/main/jvm/node-proxy.options";
  /** The control plane's JVM defaults, a java @argument file in the checkout (also read by ./trellis control-plane). */
  static final String CONTROL_PLANE_JVM_DEFAULTS = "control-plane/src/main/jvm/control-plane.options";

  /**
   * The JVM options of every process {@code up} starts: what Netty needs, then {@code TRELLIS_JAVA_OPTS} split at
   * white space as the launcher's shell splits it for the CLI itself (e.g. {@code -Xmx512m
   * -Dio.netty.leakDetection.level=paranoid}); null or blank adds nothing.
   */
  static List<String> jvmOptions(String javaOpts) {
    List<String> jvm = new ArrayList<>(List.of("--enable-native-access=ALL-UNNAMED",
        "--sun-misc-unsafe-memory-access=allow"));
    if (javaOpts != null && !javaOpts.isBlank()) {
      jvm.addAll(List.of(javaOpts.strip().split("\\s+")));
    }
    return jvm;
  }

  /**
   * The node proxies' telemetry: the mesh file's, unless {@code --zipkin} says otherwise ('none': no span export;
   * a URL: every request traced and sent there).
   */
  static MeshTelemetry telemetry(MeshTelemetry fromFile, String zipkinOption) {
    if (zipkinOption == null) {
      return fromFile;
    }
    URI url = null;
    double sampling = fromFile.tracingSampling();
    if (!zipkinOption.equals("none")) {
      try {
        url = URI.create(zipkinOption);
      } catch (IllegalArgumentException e) {
        url = null;
      }
      if (url == null || url.getHost() == null || !("http".equals(url.getScheme()) || "https".equals(url.getScheme()))) {
        throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(new UpCommand()), "--zipkin '"
            + zipkinOption + "': expected an http(s) URL such as http://127.0.0.1:9411/api/v2/spans, or none");
      }
      sampling = 1.0;
    }
    return new MeshTelemetry(fromFile.enabled(), sampling, fromFile.otlpGrpc(), fromFile.otlpHttp(), url,
        fromFile.maxQueuedSpans(), fromFile.accessLog(), fromFile.accessLogSampling());
  }

  /** The module jar and its copied dependencies, as the launcher builds them. */
  static String classpath(Path root, String module) throws IOException {
    Path target = root.resolve(module).resolve("target");
    try (Stream<Path> files = Files.exists(target) ? Files.list(target) : Stream.empty()) {
      Path jar = files.filter(f -> f.getFileName().toString().matches("trellis-" + module + "-.*(?<!-tests|-sources)\\.jar"))
          .findFirst().orElseThrow(() -> new IllegalStateException("no " + module + " jar in " + target + ": build it "
              + "with ./mvnw -pl cli -am package -DskipTests (./trellis up does)"));
      return jar + ":" + target.resolve("lib") + "/*";
    }
  }

  private static String describe(RunState.Role role) {
    return switch (role) {
      case CONTROL_PLANE -> "control plane";
      case NODE_AGENT -> "node agent";
      case NODE_PROXY -> "node proxy";
      case WORKLOAD -> "workload";
    };
  }

  private void printNext(PrintWriter out, Mesh mesh, NetnsPlan net) {
    String dir = stateDir.equals(Path.of(".trellis/run")) ? "" : " --state-dir " + stateDir;
    out.println("The mesh is up. Next:");
    List<String[]> next = new ArrayList<>();
    next.add(new String[] {"trellis status" + dir, "processes, xDS clients and ACKed versions, certificates"});
    if (!mesh.nodes().isEmpty()) {
      next.add(new String[] {"trellis config-dump " + mesh.nodes().getFirst().name() + dir,
          "what that node proxy holds"});
    }
    (net == null ? example(mesh) : exampleInNetns(mesh, dir)).ifPresent(c -> next.add(new String[] {c, "a call as "
        + mesh.workloads().getFirst().namespace() + "/" + mesh.workloads().getFirst().name()}));
    next.add(new String[] {"tail " + stateDir.resolve("<node>.access.log"), "one JSON line per request, with its "
        + "trace id"});
    next.add(new String[] {"trellis down" + dir, "stop everything"});
    int width = next.stream().mapToInt(n -> n[0].length()).max().orElse(0);
    next.forEach(n -> out.printf("  %-" + width + "s   # %s%n", n[0], n[1]));
    out.flush();
  }

  /** A curl inside the first workload's pod to the first HTTP service with a VIP, captured on its way out. */
  static Optional<String> exampleInNetns(Mesh mesh, String stateDirOption) {
    return firstHttpUrl(mesh).map(url -> "trellis exec" + stateDirOption + " " + mesh.workloads().getFirst().namespace()
        + "/" + mesh.workloads().getFirst().name() + " -- curl -s " + url);
  }

  /** A curl from the first workload with a process to the first HTTP service with a VIP, through its node's entry. */
  static Optional<String> example(Mesh mesh) {
    return firstHttpUrl(mesh).map(url -> {
      Workload from = mesh.workloads().getFirst();
      String node = mesh.nodes().stream().filter(n -> n.name().equals(from.node())).findFirst().orElseThrow()
          .address();
      return "curl --interface " + from.address() + " --socks5 " + node + ":" + LaunchPlan.PROXY_ENTRY + " " + url;
    });
  }

  /** {@code http://VIP:PORT/} of the first service with a VIP and an HTTP port, when the mesh has a workload. */
  private static Optional<String> firstHttpUrl(Mesh mesh) {
    if (mesh.workloads().isEmpty()) {
      return Optional.empty();
    }
    for (Service s : mesh.services()) {
      Optional<Integer> port = s.ports().stream().filter(p -> p.protocol().name().startsWith("HTTP")).findFirst()
          .map(p -> p.port());
      if (s.vip() != null && port.isPresent()) {
        return Optional.of("http://" + s.vip() + ":" + port.get() + "/");
      }
    }
    return Optional.empty();
  }
}
