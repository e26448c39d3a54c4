package dev.trellis.proxy;

import static java.util.Objects.requireNonNull;

import dev.trellis.cni.AgentProtocol;
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
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One node agent: takes the CNI plugin's calls on a Unix socket, decides enrollment from the pods' and namespaces'
 * labels (the API server's, or a pods file's in local mode), installs redirection (eBPF, or nftables where eBPF is
 * unavailable) and keeps it in step when labels change; in a cluster it also installs and chains the CNI plugin.
 * {@link #start} wires and starts everything in order, {@link #close} stops it. Stopping leaves redirection in place
 * (established and new connections keep flowing; a restarted agent takes its pods back); {@link #uninstall}
 * removes everything. Threads: see ARCHITECTURE.md (the server's serial thread runs every agent call and
 * reconciliation; {@code trellis-agent-watch} re-reads the pods file and re-checks the CNI chaining).
 */
public final class NodeAgent implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(NodeAgent.class);
  /** How often the pods file is read again (local mode). */
  static final Duration PODS_FILE_PERIOD = Duration.ofMillis(500);
  /** How often the CNI chaining is checked again. */
  static final Duration CNI_CHECK_PERIOD = Duration.ofSeconds(1);

  /** Sets up the node's redirection ({@link Redirection#open} in production). */
  @FunctionalInterface
  interface RedirectionOpener {
    Redirection open(Redirection.Settings settings) throws IOException;
  }

  private final NodeAgentOptions options;
  private final RedirectionOpener redirections;
  private final ScheduledExecutorService watch = Executors.newSingleThreadScheduledExecutor(
      Thread.ofPlatform().name("trellis-agent-watch").daemon().factory());
  private Redirection redirection;
  private KubernetesClient client;
  private KubernetesPodDirectory cluster;
  private CaptureAgent agent;
  private NodeAgentServer server;
  private PodsFileWatch podsFileWatch;
  private Optional<CniInstaller> cni = Optional.empty();

  public NodeAgent(NodeAgentOptions options) {
    this(options, Redirection::open);
  }

  NodeAgent(NodeAgentOptions options, RedirectionOpener redirections) {
    this.options = requireNonNull(options, "options");
    this.redirections = requireNonNull(redirections, "redirections");
  }

  /**
   * Sets up redirection, reads the pods, takes back what the agent captured before a restart, then answers the
   * plugin and (with CNI directories) installs and chains the plugin. Fails, having closed what it opened, if any
   * step fails.
   */
  public NodeAgent start() throws IOException {
    try {
      redirection = redirections.open(options.redirection());
      PodDirectory pods;
      CgroupResolver cgroups;
      FilePodDirectory file = null;
      switch (options.pods()) {
        case NodeAgentOptions.PodSource.Kubernetes k -> {
          client = new KubernetesClientBuilder().build(); // in a pod: its service account (get/list/watch pods, namespaces)
          cluster = KubernetesPodDirectory.start(client, k.node(), Mounts.fetch().cgroup2().orElse(null));
          pods = cluster;
          cgroups = cluster;
        }
        case NodeAgentOptions.PodSource.File f -> {
          file = FilePodDirectory.load(f.file());
          pods = file;
          cgroups = redirection.cgroups(file);
        }
      }
      agent = new CaptureAgent(pods, redirection.redirector(), new AgentStateFile(options.stateFile()), cgroups);
      // Label changes seen from now on are reconciled on the server's thread once it runs.
      CoalescingTrigger reconcile = new CoalescingTrigger(agent::reconcile);
      if (cluster != null) {
        cluster.onChange(reconcile::request);
      }
      CaptureAgent.Reconciliation restored = agent.restore();
      if (!restored.failures().isEmpty()) {
        log.warn("pods not brought in line at start: {}", restored.failures());
      }
      agent.ready();
      server = NodeAgentServer.start(options.socket(), agent);
      reconcile.start(server::execute); // and changes that came while it restored
      if (file != null) {
        podsFileWatch = new PodsFileWatch(file, reconcile::request).start(watch, PODS_FILE_PERIOD);
      }
      if (options.cni().isPresent()) {
        CniInstaller installer = new CniInstaller(options.cni().get(), options.socket().toString(), javaHome());
        try {
          installer.installPlugin();
        } catch (IOException e) {
          throw new IOException("installing the CNI plugin: " + e.getMessage(), e);
        }
        cni = Optional.of(installer);
        installer.start(watch, CNI_CHECK_PERIOD); // the agent answers from now on: chain the plugin
      }
      return this;
    } catch (IOException | RuntimeException e) {
      close();
      throw e;
    }
  }

  /** The line the agent prints once it is up (`trellis up --netns` waits for "node agent up"). */
  public String describe() {
    return "trellis node agent up: " + redirection.describe() + ", " + agent.capturedContainers().size()
        + " pods captured, CNI socket " + server.socket()
        + (options.pods() instanceof NodeAgentOptions.PodSource.Kubernetes k ? ", pods of node " + k.node()
            + " from the API server" : "");
  }

  /** The agent's decisions and memory (for tests and status). */
  public CaptureAgent captureAgent() {
    return agent;
  }

  /**
   * Stops taking calls and watching. With a CNI installation, first takes the plugin out (no new ADD reaches an
   * agent on its way out) unless this is a restart in a cluster ({@link CniRemoval}).
   */
  @Override
  public void close() {
    if (cni.isPresent()) {
      CniRemoval.Decision decision = cniRemoval();
      log.info("{} the CNI plugin: {}", decision.remove() ? "removing" : "keeping", decision.reason());
      try {
        if (decision.remove()) {
          cni.get().uninstall();
        } else {
          cni.get().close(); // stop re-chaining; the plugin stays
        }
      } catch (IOException e) {
        log.warn("removing the CNI plugin: {}", e.toString());
      }
    }
    if (podsFileWatch != null) {
      podsFileWatch.close();
    }
    watch.shutdownNow();
    if (server != null) {
      try {
        server.close();
      } catch (IOException e) {
        log.debug("closing the CNI socket: {}", e.toString());
      }
    }
    if (cluster != null) {
      cluster.close();
    }
    if (client != null) {
      client.close();
    }
  }

  /**
   * In a cluster, with its own pod known (the chart sets {@code POD_NAMESPACE} and {@code POD_NAME}), the plugin
   * outlives a restart of the agent and goes with an uninstall; elsewhere it goes whenever the agent stops.
   */
  private CniRemoval.Decision cniRemoval() {
    if (client == null || options.self().isEmpty()) {
      return new CniRemoval.Decision(true, "not run by Kubernetes (no --kubernetes, POD_NAMESPACE and POD_NAME)");
    }
    return CniRemoval.fetch(client, options.self().get().namespace(), options.self().get().name());
  }

  /**
   * {@code trellis node-agent uninstall}: removes the CNI plugin (with its directories) and every rule, program and
   * pin of either redirection; returns what it did, in words.
   */
  public static String uninstall(Redirection.Settings redirection, Optional<CniInstaller.Dirs> cniDirs)
      throws IOException {
    if (cniDirs.isPresent()) {
      new CniInstaller(cniDirs.get(), AgentProtocol.DEFAULT_SOCKET, javaHome()).uninstall();
    }
    Redirection.uninstall(redirection);
    return "trellis node agent: all redirection removed" + (cniDirs.isPresent() ? ", CNI plugin removed" : "");
  }

  /** The JDK this agent runs on: copied next to the plugin, which the runtime runs on the host. */
  private static Path javaHome() {
    return Path.of(System.getProperty("java.home"));
  }
}
