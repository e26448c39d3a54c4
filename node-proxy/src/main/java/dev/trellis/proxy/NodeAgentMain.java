package dev.trellis.proxy;

import dev.trellis.proxy.cni.NodeAgentServer;
import dev.trellis.proxy.redirect.AgentStateFile;
import dev.trellis.proxy.redirect.CaptureAgent;
import dev.trellis.proxy.redirect.FilePodDirectory;
import dev.trellis.proxy.redirect.Redirection;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code trellis node-agent}: the node agent — takes the CNI plugin's calls on a Unix socket, decides enrollment
 * from the pods file's labels, installs redirection (eBPF, or nftables where eBPF is unavailable) and keeps it
 * in step when labels change. Stopping it leaves redirection in place (established and new connections keep
 * flowing; a restarted agent takes its pods back); {@code uninstall} removes everything.
 *
 * <pre>
 * trellis node-agent --pods pods.json [--socket /var/run/trellis/cni.sock] [--redirect auto|ebpf|nftables]
 *                    [--proxy-address NODE_IP] [--state-file /var/run/trellis/agent-state.json]
 * trellis node-agent uninstall [--redirect auto|ebpf|nftables]
 * </pre>
 */
public final class NodeAgentMain {

  private static final Logger log = LoggerFactory.getLogger(NodeAgentMain.class);

  private NodeAgentMain() {}

  public static void main(String[] args) throws Exception {
    if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
      String level = System.getenv("TRELLIS_LOG_LEVEL");
      System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", level == null || level.isBlank() ? "info" : level);
    }
    if (args.length > 0 && args[0].equals("node-agent")) {
      args = java.util.Arrays.copyOfRange(args, 1, args.length); // the container image passes the subcommand word
    }
    boolean uninstall = args.length > 0 && args[0].equals("uninstall");
    Map<String, String> opts;
    try {
      opts = NodeProxyMain.options(uninstall ? java.util.Arrays.copyOfRange(args, 1, args.length) : args);
      if (opts.containsKey("help")) {
        usage();
        return;
      }
      if (!uninstall && !opts.containsKey("pods")) {
        throw new IllegalArgumentException("--pods is required (the JSON file of this node's pods and namespace labels)");
      }
    } catch (IllegalArgumentException e) {
      System.err.println("error: " + e.getMessage());
      usage();
      System.exit(2);
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
    if (uninstall) {
      Redirection.uninstall(settings);
      System.out.println("trellis node agent: all redirection removed");
      return;
    }
    Redirection redirection;
    FilePodDirectory pods;
    try {
      pods = FilePodDirectory.load(Path.of(opts.get("pods")));
      redirection = Redirection.open(settings);
    } catch (IOException | RuntimeException e) {
      System.err.println("error: " + e.getMessage());
      System.exit(1);
      return;
    }
    CaptureAgent agent = new CaptureAgent(pods, redirection.redirector(),
        new AgentStateFile(Path.of(opts.getOrDefault("state-file", "/var/run/trellis/agent-state.json"))),
        redirection.cgroups(pods));
    CaptureAgent.Reconciliation restored = agent.restore();
    if (!restored.failures().isEmpty()) {
      log.warn("pods not brought in line at start: {}", restored.failures());
    }
    agent.ready();
    NodeAgentServer server = NodeAgentServer.start(Path.of(opts.getOrDefault("socket", "/var/run/trellis/cni.sock")), agent);
    ScheduledExecutorService watch = Executors.newSingleThreadScheduledExecutor(
        Thread.ofPlatform().name("trellis-agent-watch").daemon().factory());
    String[] lastError = {null};
    watch.scheduleWithFixedDelay(() -> {
      try {
        if (pods.reload()) {
          server.execute(agent::reconcile);
        }
        lastError[0] = null;
      } catch (IOException e) {
        if (!e.getMessage().equals(lastError[0])) {
          log.warn("{} (the last good pods file stays in force)", e.getMessage());
          lastError[0] = e.getMessage();
        }
      }
    }, 500, 500, TimeUnit.MILLISECONDS);
    System.out.println("trellis node agent up: " + redirection.describe() + ", " + agent.capturedContainers().size()
        + " pods captured, CNI socket " + server.socket());
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      watch.shutdownNow();
      try {
        server.close();
      } catch (IOException e) {
        log.debug("closing the CNI socket: {}", e.toString());
      }
      stopped.countDown();
    }));
    stopped.await();
  }

  private static void usage() {
    System.err.println("usage: trellis node-agent --pods FILE [--socket /var/run/trellis/cni.sock]"
        + " [--redirect auto|ebpf|nftables] [--proxy-address NODE_IP] [--state-file FILE] [--ebpf-pins DIR]\n"
        + "       trellis node-agent uninstall [--redirect auto|ebpf|nftables] [--ebpf-pins DIR]");
  }
}
