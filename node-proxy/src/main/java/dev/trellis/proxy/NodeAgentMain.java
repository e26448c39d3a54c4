package dev.trellis.proxy;

import dev.trellis.cni.AgentProtocol;
import dev.trellis.proxy.cni.CniInstaller;
import dev.trellis.proxy.flags.CommandLines;
import dev.trellis.proxy.redirect.Redirection;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.TypeConversionException;

/**
 * {@code trellis node-agent}: parses the command line into {@link NodeAgentOptions} and runs a {@link NodeAgent}
 * until SIGTERM; {@code trellis node-agent uninstall} removes what agents installed (docs/node-agent.md).
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
@Command(name = "trellis node-agent", mixinStandardHelpOptions = true, version = "trellis 0.1.0-SNAPSHOT",
    subcommands = NodeAgentMain.Uninstall.class, description = "Run the node agent until SIGTERM: it takes the CNI plugin's calls on "
        + "--socket, decides enrollment from the pods' and namespaces' labels (the API server's with --kubernetes, else "
        + "a pods file's), installs redirection (eBPF, or nftables TPROXY where eBPF is unavailable) and keeps it in "
        + "step when labels change. Stopping leaves redirection in place; 'uninstall' removes it "
        + "(docs/node-agent.md).")
public final class NodeAgentMain implements Callable<Integer> {

  static final String DEFAULT_STATE_FILE = "/var/run/trellis/agent-state.json";

  @Spec CommandSpec spec;

  @Option(names = "--kubernetes", description = "Pods of --node and the namespaces' labels from the API server "
      + "(informers; the pod's service account needs get/list/watch on pods and namespaces).")
  boolean kubernetes;

  @Option(names = "--node", paramLabel = "NAME", description = "With --kubernetes: this node's name (spec.nodeName of "
      + "its pods).")
  String node;

  @Option(names = "--pods", paramLabel = "FILE", description = "Local mode: this node's pods and the namespaces' "
      + "labels from a JSON file, re-read when it changes.")
  Path pods;

  @Option(names = "--socket", paramLabel = "PATH", defaultValue = AgentProtocol.DEFAULT_SOCKET,
      description = "The Unix socket the CNI plugin calls (its agentSocket; default: ${DEFAULT-VALUE}).")
  Path socket;

  @Option(names = "--proxy-address", paramLabel = "IP[,IP6]", description = "The node proxy's address as pods reach "
      + "it (required for eBPF).")
  String proxyAddress;

  @Option(names = "--state-file", paramLabel = "FILE", defaultValue = DEFAULT_STATE_FILE, description = "The pods the "
      + "agent knows, so a restarted agent takes them back (default: ${DEFAULT-VALUE}).")
  Path stateFile;

  @Mixin RedirectFlags redirect;

  @Mixin CniFlags cni;

  public static void main(String[] args) {
    CommandLines.defaultLogLevel("info");
    int code = run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args);
    if (code != 0) {
      System.exit(code);
    }
  }

  /** Runs the command line (blocking while the agent runs) and returns its exit code. */
  static int run(PrintWriter out, PrintWriter err, String... args) {
    List<String> rest = new ArrayList<>(Arrays.asList(args));
    if (!rest.isEmpty() && rest.getFirst().equals("node-agent")) {
      rest.removeFirst(); // the container image passes the subcommand word
    }
    return CommandLines.execute(new NodeAgentMain(), out, err, rest.toArray(String[]::new));
  }

  /**
   * The options the flags ask for.
   *
   * @throws ParameterException naming the flags that do not go together or are missing
   */
  NodeAgentOptions options(Map<String, String> env) {
    if (kubernetes && pods != null) {
      throw usage("--kubernetes and --pods exclude each other (the API server, or a file)");
    }
    if (kubernetes && node == null) {
      throw usage("--kubernetes needs --node NAME (this node's name, spec.nodeName of its pods)");
    }
    if (!kubernetes && pods == null) {
      throw usage("give --kubernetes --node NAME (in a cluster) or --pods FILE (the JSON file of this node's pods and "
          + "namespace labels)");
    }
    NodeAgentOptions.PodSource source = kubernetes ? new NodeAgentOptions.PodSource.Kubernetes(node)
        : new NodeAgentOptions.PodSource.File(pods);
    String namespace = env.get("POD_NAMESPACE");
    String pod = env.get("POD_NAME");
    Optional<NodeAgentOptions.OwnPod> self = namespace == null || namespace.isBlank() || pod == null || pod.isBlank()
        ? Optional.empty() : Optional.of(new NodeAgentOptions.OwnPod(namespace, pod));
    return new NodeAgentOptions(source, socket, redirect.settings(proxyAddress), stateFile, cni.dirs(spec), self);
  }

  private ParameterException usage(String message) {
    return new ParameterException(spec.commandLine(), message);
  }

  @Override
  public Integer call() throws Exception {
    NodeAgentOptions options = options(System.getenv());
    NodeAgent agent = new NodeAgent(options).start();
    PrintWriter out = spec.commandLine().getOut();
    out.println(agent.describe());
    out.flush();
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      agent.close();
      stopped.countDown();
    }));
    stopped.await();
    return 0;
  }

  /** {@code trellis node-agent uninstall}. */
  @Command(name = "uninstall", mixinStandardHelpOptions = true, description = "Remove every rule, program and pin either "
      + "redirection installed on this node, and with the --cni-* flags the CNI plugin and its chaining.")
  static final class Uninstall implements Callable<Integer> {

    @Spec CommandSpec spec;

    @Mixin RedirectFlags redirect;

    @Mixin CniFlags cni;

    @Override
    public Integer call() throws Exception {
      PrintWriter out = spec.commandLine().getOut();
      out.println(NodeAgent.uninstall(redirect.settings(null), cni.dirs(spec)));
      out.flush();
      return 0;
    }
  }

  /** {@code --redirect} and {@code --ebpf-pins}, shared by running and uninstalling. */
  static final class RedirectFlags {

    @Option(names = "--redirect", paramLabel = "MODE", defaultValue = "auto", converter = ModeConverter.class,
        description = "auto (eBPF if it works here, else nftables), ebpf or nftables (default: ${DEFAULT-VALUE}).")
    Redirection.Mode mode;

    @Option(names = "--ebpf-pins", paramLabel = "DIR", defaultValue = Redirection.DEFAULT_PINS,
        description = "Where eBPF programs, links and maps are pinned (default: ${DEFAULT-VALUE}).")
    Path pins;

    Redirection.Settings settings(String proxyAddress) {
      return new Redirection.Settings(mode, proxyAddress, pins);
    }
  }

  /** {@code --redirect}'s values, in lower case as before. */
  static final class ModeConverter implements ITypeConverter<Redirection.Mode> {
    @Override
    public Redirection.Mode convert(String value) {
      try {
        return Redirection.Mode.parse(value);
      } catch (IllegalArgumentException e) {
        throw new TypeConversionException(e.getMessage());
      }
    }
  }

  /** The CNI installation's directories: all three or none. */
  static final class CniFlags {

    @Option(names = "--cni-bin-dir", paramLabel = "DIR", description = "Install the CNI plugin (and a copy of this "
        + "JDK) here (the host's /opt/cni/bin).")
    Path bin;

    @Option(names = "--cni-conf-dir", paramLabel = "DIR", description = "Chain trellis-cni last in the first CNI "
        + "configuration here (the host's /etc/cni/net.d), waiting for one if there is none yet; removed again on "
        + "exit.")
    Path conf;

    @Option(names = "--cni-plugin-dir", paramLabel = "DIR", description = "The packaged plugin to install (trellis-cni, "
        + "trellis-cni.d/lib/*.jar).")
    Path plugin;

    Optional<CniInstaller.Dirs> dirs(CommandSpec spec) {
      List<String> missing = new ArrayList<>();
      if (bin == null) {
        missing.add("--cni-bin-dir");
      }
      if (conf == null) {
        missing.add("--cni-conf-dir");
      }
      if (plugin == null) {
        missing.add("--cni-plugin-dir");
      }
      if (missing.size() == 3) {
        return Optional.empty();
      }
      if (!missing.isEmpty()) {
        throw new ParameterException(spec.commandLine(), "--cni-bin-dir, --cni-conf-dir and --cni-plugin-dir go "
            + "together: missing " + String.join(", ", missing));
      }
      return Optional.of(new CniInstaller.Dirs(bin, conf, plugin));
    }
  }
}
