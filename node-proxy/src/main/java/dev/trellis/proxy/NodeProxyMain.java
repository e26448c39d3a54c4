package dev.trellis.proxy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

/**
 * {@code trellis node-proxy}: runs one node proxy until interrupted.
 *
 * <pre>
 * trellis node-proxy --node node-1 --address 127.0.1.1 --token-file node-1.token [--control-plane 127.0.0.1:15010]
 *                    [--entry-port 15001] [--inbound-port 15006] [--hbone-port 15008] [--admin-port 15020]
 *                    [--debug-admin-port 15000]
 *                    [--capture none|transparent] [--ebpf-pins /sys/fs/bpf/trellis]
 *                    [--agent-state /var/run/trellis/agent-state.json]
 *                    [--control-plane-ca /var/run/trellis/ca/root-cert.pem]
 * trellis node-proxy agent ...   (the node agent, see {@link NodeAgentMain})
 * </pre>
 */
public final class NodeProxyMain {

  private NodeProxyMain() {}

  public static void main(String[] args) throws Exception {
    if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
      String level = System.getenv("TRELLIS_LOG_LEVEL");
      System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", level == null || level.isBlank() ? "info" : level);
    }
    // The container image passes the subcommand word too (`node-proxy --node …`, `node-agent --kubernetes …`).
    if (args.length > 0 && args[0].equals("node-proxy")) {
      args = java.util.Arrays.copyOfRange(args, 1, args.length);
    }
    if (args.length > 0 && (args[0].equals("agent") || args[0].equals("node-agent"))) {
      NodeAgentMain.main(java.util.Arrays.copyOfRange(args, 1, args.length));
      return;
    }
    if (args.length > 0 && args[0].equals("standalone")) {
      dev.trellis.proxy.standalone.StandaloneMain.main(java.util.Arrays.copyOfRange(args, 1, args.length));
      return;
    }
    Map<String, String> opts;
    try {
      opts = options(args);
    } catch (IllegalArgumentException e) {
      System.err.println("error: " + e.getMessage());
      usage();
      System.exit(2);
      return;
    }
    if (opts.containsKey("help")) {
      usage();
      return;
    }
    String token = opts.get("token");
    if (token == null && opts.containsKey("token-file")) {
      try {
        token = Files.readString(Path.of(opts.get("token-file")), StandardCharsets.UTF_8).strip();
      } catch (IOException e) {
        System.err.println("error: cannot read --token-file " + opts.get("token-file") + ": " + e.getMessage());
        System.exit(2);
      }
    }
    for (String required : new String[] {"node", "address"}) {
      if (!opts.containsKey(required)) {
        System.err.println("error: --" + required + " is required");
        usage();
        System.exit(2);
      }
    }
    if (token == null) {
      System.err.println("error: give --token or --token-file (the node's token from the mesh file)");
      System.exit(2);
    }
    NodeProxyOptions options = NodeProxyOptions.local(opts.get("node"), opts.get("address"),
        opts.getOrDefault("control-plane", "127.0.0.1:15010"), token).withPorts(
        Integer.parseInt(opts.getOrDefault("entry-port", "15001")),
        Integer.parseInt(opts.getOrDefault("hbone-port", "15008")),
        Integer.parseInt(opts.getOrDefault("admin-port", "15020")))
        .withInboundPort(Integer.parseInt(opts.getOrDefault("inbound-port", "15006")))
        .withDebugAdminPort(Integer.parseInt(opts.getOrDefault("debug-admin-port",
            Integer.toString(NodeProxyOptions.DEBUG_ADMIN_PORT))));
    if (opts.get("token") == null && opts.containsKey("token-file")) {
      options = options.withTokenFile(Path.of(opts.get("token-file"))); // a projected token is rotated
    }
    if (opts.containsKey("control-plane-ca")) {
      Path ca = Path.of(opts.get("control-plane-ca"));
      if (!java.nio.file.Files.exists(ca)) {
        // In a cluster the control plane writes the bundle (ConfigMap trellis-ca-root-cert) once it runs, and the
        // kubelet projects it into the optional volume within a minute: wait for it rather than crash-loop.
        System.err.println("waiting for --control-plane-ca " + ca + " (the control plane's root bundle: ConfigMap "
            + "trellis-ca-root-cert, written when the control plane starts)");
        while (!java.nio.file.Files.exists(ca)) {
          try {
            Thread.sleep(1000);
          } catch (InterruptedException e) {
            return;
          }
        }
      }
      try {
        ControlPlaneChannel.readRoots(ca); // fail here, naming the flag, rather than on the first call
      } catch (IOException e) {
        System.err.println("error: " + e.getMessage());
        System.exit(2);
        return;
      }
      options = options.withControlPlaneCa(ca);
    }
    String capture = opts.getOrDefault("capture", "none");
    switch (capture) {
      case "none" -> { }
      case "transparent" -> {
        options = options.withCapture(NodeProxyOptions.Capture.TRANSPARENT);
        if (System.getProperty("trellis.transport") == null) {
          System.setProperty("trellis.transport", "epoll"); // IP_TRANSPARENT needs Netty's native transport
        }
      }
      default -> {
        System.err.println("error: --capture '" + capture + "' (expected: none or transparent)");
        System.exit(2);
        return;
      }
    }
    if (opts.containsKey("agent-state")) {
      if (options.capture() != NodeProxyOptions.Capture.TRANSPARENT) {
        System.err.println("error: --agent-state needs --capture transparent (it finds captured pods' network "
            + "namespaces)");
        System.exit(2);
      }
      options = options.withAgentState(Path.of(opts.get("agent-state")));
    }
    NodeProxy.RedirectLookup redirects = null;
    if (opts.containsKey("ebpf-pins")) {
      if (options.capture() != NodeProxyOptions.Capture.TRANSPARENT) {
        System.err.println("error: --ebpf-pins needs --capture transparent");
        System.exit(2);
      }
      try {
        redirects = new dev.trellis.proxy.redirect.EbpfOriginalDestinations(Path.of(opts.get("ebpf-pins")))::find;
      } catch (IOException e) {
        System.err.println("error: --ebpf-pins: " + e.getMessage());
        System.exit(1);
      }
    }
    dev.trellis.telemetry.Telemetry telemetry;
    try {
      dev.trellis.telemetry.TelemetrySettings settings = TelemetryFlags.parse(opts);
      telemetry = settings == null ? dev.trellis.telemetry.Telemetry.disabled()
          : dev.trellis.telemetry.Telemetry.create(settings, "trellis-node-proxy", io.opentelemetry.api.common.Attributes
              .builder().put("trellis.node", options.node()).put("service.instance.id", options.node()).build());
    } catch (IllegalArgumentException e) {
      System.err.println("error: " + e.getMessage());
      System.exit(2);
      return;
    }
    NodeProxy proxy;
    try {
      proxy = new NodeProxy(options, Clock.systemUTC(), redirects, telemetry).start();
    } catch (IOException e) {
      System.err.println("error: " + e.getMessage());
      System.exit(1);
      return;
    }
    System.out.println("node proxy " + options.node() + " up on " + options.address() + ": "
        + (options.capture() == NodeProxyOptions.Capture.TRANSPARENT ? "outbound capture " : "entry (SOCKS5) ")
        + proxy.entryPort() + ", inbound " + proxy.inboundPort() + ", HBONE " + proxy.hbonePort() + ", health and metrics "
        + "http://" + options.address() + ":" + proxy.adminPort() + "/metrics, debug admin (this machine only) http://"
        + hostPort(proxy.debugAdminAddress()) + "/config_dump");
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      proxy.close();
      stopped.countDown();
    }));
    stopped.await();
  }

  private static String hostPort(java.net.InetSocketAddress a) {
    String host = a.getAddress().getHostAddress();
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
  }

  /** {@code --name value} pairs and {@code --help}/{@code -h}; anything else is refused, naming it. */
  static Map<String, String> options(String[] args) {
    Map<String, String> m = new HashMap<>();
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--help") || args[i].equals("-h")) {
        m.put("help", "");
        continue;
      }
      if (!args[i].startsWith("--") || i + 1 >= args.length) {
        throw new IllegalArgumentException("unexpected argument '" + args[i] + "'");
      }
      m.put(args[i].substring(2), args[++i]);
    }
    return m;
  }

  private static void usage() {
    System.err.println("usage: trellis node-proxy --node NAME --address IP (--token-file F | --token T (visible in ps))"
        + " [--control-plane HOST:PORT] [--entry-port 15001] [--inbound-port 15006] [--hbone-port 15008]"
        + " [--admin-port 15020 (health, metrics)] [--debug-admin-port 15000 (/config_dump, /clusters, /connections;"
        + " loopback only: the node address if it is loopback, else 127.0.0.1)] [--capture none|transparent] [--ebpf-pins DIR (eBPF redirection's pins)]"
        + " [--agent-state FILE (the node agent's --state-file: passthrough of eBPF-captured pods leaves from inside"
        + " their network namespaces)]"
        + " [--control-plane-ca FILE (TLS to the control plane, trusting this PEM root bundle; default plaintext)]"
        + " [--telemetry on|off] [--tracing-sampling 0.01] [--otlp-grpc URL] [--otlp-http URL] [--zipkin URL]"
        + " [--max-queued-spans 2048] [--access-log stdout|stderr|FILE] [--access-log-sampling 1] (docs/telemetry.md)");
  }
}
