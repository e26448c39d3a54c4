package dev.trellis.proxy;

import dev.trellis.proxy.cni.CniInstaller;
import dev.trellis.proxy.cni.CniRemoval;
import dev.trellis.proxy.cni.NodeAgentServer;
import dev.trellis.proxy.host.Mounts;
import dev.trellis.proxy.redirect.AgentStateFile;
import dev.trellis.proxy.redirect.CaptureAgent;
import dev.trellis.proxy.redirect.CgroupResolver;
import dev.trellis.proxy.redirect.FilePodDirectory;
import dev.trellis.proxy.redirect.KubernetesPodDirectory;
import dev.trellis.proxy.redirect.PodDirectory;
import dev.trellis.proxy.redirect.Redirection;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code trellis node-agent}: the node agent — takes the CNI plugin's calls on a Unix socket, decides enrollment
 * from the pods' and namespaces' labels (the Kubernetes API server's, or a pods file's in local mode), installs
 * redirection (eBPF, or nftables where eBPF is unavailable) and keeps it in step when labels change. In a cluster it
 * also installs the CNI plugin on the node and chains it into the node's CNI configuration, and takes it out again
 * when it stops. Stopping it leaves redirection in place (established and new connections keep flowing; a restarted
 * agent takes its pods back); {@code uninstall} removes everything.
 *
 * <pre>
 * trellis node-agent (--kubernetes --node NAME | --pods pods.json) [--socket /var/run/trellis/cni.sock]
 *                    [--redirect auto|ebpf|nftables] [--proxy-address NODE_IP]
 *                    [--state-file /var/run/trellis/agent-state.json] [--ebpf-pins /sys/fs/bpf/trellis]
 *                    [--cni-bin-dir DIR --cni-conf-dir DIR --cni-plugin-dir DIR]
 * trellis node-agent uninstall [--redirect auto|ebpf|nftables] [--ebpf-pins DIR]
 *                    [--cni-bin-dir DIR --cni-conf-dir DIR --cni-plugin-dir DIR]
 * </pre>
 */
public final class NodeAgentMain {

  private static final Logger log = LoggerFactory.getLogger(NodeAgentMain.class);
  static final String DEFAULT_SOCKET = "/var/run/trellis/cni.sock";
  private static final List<String> CNI_FLAGS = List.of("cni-bin-dir", "cni-conf-dir", "cni-plugin-dir");

  private NodeAgentMain() {}

  /** The command line, checked. */
  record Flags(boolean uninstall, boolean kubernetes, Map<String, String> opts, Optional<CniInstaller.Dirs> cni) {
    String socket() {
      return opts.getOrDefault("socket", DEFAULT_SOCKET);
    }
  }

  /**
   * Parses and checks the command line ({@code --kubernetes} is the one flag without a value).
   *
   * @throws IllegalArgumentException naming what is wrong or missing
   */
  static Flags parse(String[] args) {
    List<String> rest = new ArrayList<>(Arrays.asList(args));
    if (!rest.isEmpty() && rest.getFirst().equals("node-agent")) {
      rest.removeFirst(); // the container image passes the subcommand word
    }
    boolean uninstall = !rest.isEmpty() && rest.getFirst().equals("uninstall");
    if (uninstall) {
      rest.removeFirst();
    }
    boolean kubernetes = rest.remove("--kubernetes");
    Map<String, String> opts = NodeProxyMain.options(rest.toArray(String[]::new));
    Optional<CniInstaller.Dirs> cni = cniDirs(opts);
    if (!uninstall && !opts.containsKey("help")) {
      if (kubernetes && opts.containsKey("pods")) {
        throw new IllegalArgumentException("--kubernetes and --pods exclude each other (the API server, or a file)");
      }
      if (kubernetes && !opts.containsKey("node")) {
        throw new IllegalArgumentException("--kubernetes needs --node NAME (this node's name, spec.nodeName of its pods)");
      }
      if (!kubernetes && !opts.containsKey("pods")) {
        throw new IllegalArgumentException("give --kubernetes --node NAME (in a cluster) or --pods FILE (the JSON file "
            + "of this node's pods and namespace labels)");
      }
    }
    return new Flags(uninstall, kubernetes, opts, cni);
  }

  /** The CNI installation's directories: all three flags or none. */
  static Optional<CniInstaller.Dirs> cniDirs(Map<String, String> opts) {
    List<String> missing = CNI_FLAGS.stream().filter(f -> !opts.containsKey(f)).map(f -> "--" + f).toList();
    if (missing.size() == CNI_FLAGS.size()) {
      return Optional.empty();
    }
    if (!missing.isEmpty()) {
      throw new IllegalArgumentException("--cni-bin-dir, --cni-conf-dir and --cni-plugin-dir go together: missing "
          + String.join(", ", missing));
    }
    return Optional.of(new CniInstaller.Dirs(Path.of(opts.get("cni-bin-dir")), Path.of(opts.get("cni-conf-dir")),
        Path.of(opts.get("cni-plugin-dir"))));
  }

  public static void main(String[] args) throws Exception {
    if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
      String level = System.getenv("TRELLIS_LOG_LEVEL");
      System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", level == null || level.isBlank() ? "info" : level);
    }
    Flags flags;
    try {
      flags = parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("error: " + e.getMessage());
      usage();
      System.exit(2);
      return;
    }
    Map<String, String> opts = flags.opts();
    if (opts.containsKey("help")) {
      usage();
      return;
    }
    Redirection.Mode mode;
    try {
      mode = Redirection.Mode.parse(opts.getOrDefault("redirect", "auto"));
    } catch (IllegalArgumentException e) {
      System.err.println("error: --redirect: " + e.getMessage());
      System.exit(2);
      return;
    }
    Redirection.Settings settings = new Redirection.Settings(mode, opts.get("proxy-address"),
        Path.of(opts.getOrDefault("ebpf-pins", Redirection.DEFAULT_PINS)));
    Optional<CniInstaller> cni = flags.cni().map(d -> new CniInstaller(d, flags.socket(),
        Path.of(System.getProperty("java.home"))));
    if (flags.uninstall()) {
      if (cni.isPresent()) {
        cni.get().uninstall();
      }
      Redirection.uninstall(settings);
      System.out.println("trellis node agent: all redirection removed" + (cni.isPresent() ? ", CNI plugin removed" : ""));
      return;
    }
    Redirection redirection;
    PodDirectory pods;
    CgroupResolver cgroups;
    FilePodDirectory file = null;
    KubernetesPodDirectory cluster = null;
    KubernetesClient client = null;
    try {
      redirection = Redirection.open(settings);
      if (flags.kubernetes()) {
        client = new KubernetesClientBuilder().build(); // in a pod: its service account (get/list/watch pods, namespaces)
        cluster = KubernetesPodDirectory.start(client, opts.get("node"), Mounts.fetch().cgroup2().orElse(null));
        pods = cluster;
        cgroups = cluster;
      } else {
        file = FilePodDirectory.load(Path.of(opts.get("pods")));
        pods = file;
        cgroups = redirection.cgroups(file);
      }
    } catch (IOException | RuntimeException e) {
      System.err.println("error: " + e.getMessage());
      System.exit(1);
      return;
    }
    CaptureAgent agent = new CaptureAgent(pods, redirection.redirector(),
        new AgentStateFile(Path.of(opts.getOrDefault("state-file", "/var/run/trellis/agent-state.json"))), cgroups);
    // Label changes seen from now on are reconciled on the agent's thread once the server is up; one pending
    // reconciliation stands for any number of changes.
    AtomicReference<NodeAgentServer> serving = new AtomicReference<>();
    AtomicBoolean pending = new AtomicBoolean();
    Runnable changed = () -> {
      NodeAgentServer s = serving.get();
      if (pending.compareAndSet(false, true) && s != null) {
        s.execute(() -> {
          pending.set(false);
          agent.reconcile();
        });
      }
    };
    if (cluster != null) {
      cluster.onChange(changed);
    }
    CaptureAgent.Reconciliation restored = agent.restore();
    if (!restored.failures().isEmpty()) {
      log.warn("pods not brought in line at start: {}", restored.failures());
    }
    agent.ready();
    NodeAgentServer server = NodeAgentServer.start(Path.of(flags.socket()), agent);
    serving.set(server);
    if (pending.getAndSet(false)) {
      server.execute(agent::reconcile); // changes that came while it restored
    }
    ScheduledExecutorService watch = Executors.newSingleThreadScheduledExecutor(
        Thread.ofPlatform().name("trellis-agent-watch").daemon().factory());
    if (file != null) {
      watchFile(file, watch, changed);
    }
    if (cni.isPresent()) {
      try {
        cni.get().installPlugin();
      } catch (IOException e) {
        System.err.println("error: installing the CNI plugin: " + e.getMessage());
        System.exit(1);
        return;
      }
      cni.get().start(watch, Duration.ofSeconds(1)); // the agent answers from now on: chain the plugin
    }
    System.out.println("trellis node agent up: " + redirection.describe() + ", " + agent.capturedContainers().size()
        + " pods captured, CNI socket " + server.socket() + (flags.kubernetes() ? ", pods of node " + opts.get("node")
        + " from the API server" : ""));
    CountDownLatch stopped = new CountDownLatch(1);
    KubernetesPodDirectory informers = cluster;
    KubernetesClient api = client;
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      if (cni.isPresent()) {
        CniRemoval.Decision decision = cniRemoval(api);
        log.info("{} the CNI plugin: {}", decision.remove() ? "removing" : "keeping", decision.reason());
        try {
          if (decision.remove()) {
            cni.get().uninstall(); // first: no new ADD reaches an agent on its way out
          } else {
            cni.get().close(); // stop re-chaining; the plugin stays
          }
        } catch (IOException e) {
          log.warn("removing the CNI plugin: {}", e.toString());
        }
      }
      watch.shutdownNow();
      try {
        server.close();
      } catch (IOException e) {
        log.debug("closing the CNI socket: {}", e.toString());
      }
      if (informers != null) {
        informers.close();
        api.close();
      }
      stopped.countDown();
    }));
    stopped.await();
  }

  /**
   * In a cluster, with {@code POD_NAMESPACE} and {@code POD_NAME} set (the chart does), the plugin outlives a restart
   * of the agent and goes with an uninstall ({@link CniRemoval}); elsewhere it goes whenever the agent stops.
   */
  private static CniRemoval.Decision cniRemoval(KubernetesClient api) {
    String namespace = System.getenv("POD_NAMESPACE");
    String pod = System.getenv("POD_NAME");
    if (api == null || namespace == null || namespace.isBlank() || pod == null || pod.isBlank()) {
      return new CniRemoval.Decision(true, "not run by Kubernetes (no --kubernetes, POD_NAMESPACE and POD_NAME)");
    }
    return CniRemoval.fetch(api, namespace, pod);
  }

  /** Re-reads the pods file every half second; a bad file is logged once and the last good one stays. */
  private static void watchFile(FilePodDirectory pods, ScheduledExecutorService watch, Runnable changed) {
    String[] lastError = {null};
    watch.scheduleWithFixedDelay(() -> {
      try {
        if (pods.reload()) {
          changed.run();
        }
        lastError[0] = null;
      } catch (IOException e) {
        if (!e.getMessage().equals(lastError[0])) {
          log.warn("{} (the last good pods file stays in force)", e.getMessage());
          lastError[0] = e.getMessage();
        }
      }
    }, 500, 500, TimeUnit.MILLISECONDS);
  }

  private static void usage() {
    System.err.println("""
        usage: trellis node-agent (--kubernetes --node NAME | --pods FILE) [--socket /var/run/trellis/cni.sock]
                                  [--redirect auto|ebpf|nftables] [--proxy-address NODE_IP] [--state-file FILE]
                                  [--ebpf-pins DIR] [--cni-bin-dir DIR --cni-conf-dir DIR --cni-plugin-dir DIR]
               trellis node-agent uninstall [--redirect auto|ebpf|nftables] [--ebpf-pins DIR]
                                  [--cni-bin-dir DIR --cni-conf-dir DIR --cni-plugin-dir DIR]
          --kubernetes --node NAME  pods of node NAME and the namespaces' labels from the API server (informers;
                                    the pod's service account needs get/list/watch on pods and namespaces)
          --pods FILE               local mode: this node's pods and the namespaces' labels from a JSON file
          --socket PATH             the Unix socket the CNI plugin calls (its agentSocket)
          --redirect MODE           auto (eBPF if it works here, else nftables), ebpf or nftables
          --proxy-address IP[,IP6]  the node proxy's address as pods reach it (required for eBPF)
          --state-file FILE         the pods the agent knows, so a restarted agent takes them back
          --ebpf-pins DIR           where eBPF programs, links and maps are pinned
          --cni-bin-dir DIR         install the CNI plugin (and a copy of this JDK) here (the host's /opt/cni/bin)
          --cni-conf-dir DIR        chain trellis-cni last in the first CNI configuration here (the host's
                                    /etc/cni/net.d), waiting for one if there is none yet; removed again on exit
          --cni-plugin-dir DIR      the packaged plugin to install (trellis-cni, trellis-cni.d/lib/*.jar)""");
  }
}
