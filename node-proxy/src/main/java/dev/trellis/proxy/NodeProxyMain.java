package dev.trellis.proxy;

import dev.trellis.proxy.drain.ConnectionDrain;
import dev.trellis.proxy.flags.CommandLines;
import dev.trellis.proxy.flags.HttpLimitsFlags;
import dev.trellis.proxy.flags.TelemetryFlags;
import dev.trellis.proxy.http.HttpLimits;
import dev.trellis.proxy.redirect.EbpfOriginalDestinations;
import dev.trellis.proxy.standalone.StandaloneMain;
import dev.trellis.telemetry.Telemetry;
import dev.trellis.telemetry.config.TelemetrySettings;
import io.opentelemetry.api.common.Attributes;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.TypeConversionException;

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
 *                    [--first-byte-timeout 15s] [--request-headers-timeout 30s] [--request-body-timeout 30s]
 *                    [--idle-timeout 1h] [--max-response-headers-kb 60] [--max-response-headers 100]
 * trellis node-proxy agent ...        (the node agent, see {@link NodeAgentMain})
 * trellis node-proxy standalone ...   (a proxy without a control plane, see {@link StandaloneMain})
 * </pre>
 */
@Command(name = "trellis node-proxy", mixinStandardHelpOptions = true, version = "trellis 0.1.0-SNAPSHOT",
    description = "Run one node proxy until Ctrl-C or SIGTERM: it takes its configuration and its workloads' "
        + "certificates from the control plane and carries the node's traffic (docs/telemetry.md for the telemetry "
        + "flags). 'trellis node-proxy agent ...' runs the node agent, 'trellis node-proxy standalone --help' a proxy "
        + "without a control plane.")
public final class NodeProxyMain implements Callable<Integer> {

  /** About when {@code main} began: this class initializes just before it runs, and this field first. */
  private static final Instant MAIN_STARTED = Clock.systemUTC().instant();
  private static final Logger log = LoggerFactory.getLogger(NodeProxyMain.class);

  @Spec CommandSpec spec;

  @Option(names = "--node", required = true, paramLabel = "NAME", description = "This node's name (the Node.id it "
      + "presents to the control plane).")
  String node;

  @Option(names = "--address", required = true, paramLabel = "IP", description = "The node's address: health and "
      + "metrics listen there, and in local mode every port.")
  String address;

  @Option(names = "--token-file", paramLabel = "FILE", description = "The node's token for the control plane, read "
      + "again when the file changes (a projected token is rotated).")
  Path tokenFile;

  @Option(names = "--token", paramLabel = "TOKEN", description = "The node's token itself (visible in ps; prefer "
      + "--token-file).")
  String token;

  @Option(names = "--control-plane", paramLabel = "HOST:PORT", defaultValue = "127.0.0.1:15010",
      description = "The control plane's xDS + CA port (default: ${DEFAULT-VALUE}).")
  String controlPlane;

  @Option(names = "--control-plane-ca", paramLabel = "FILE", description = "TLS to the control plane, trusting this "
      + "PEM root bundle (default: plaintext); waits for the file to appear.")
  Path controlPlaneCa;

  @Option(names = "--entry-port", paramLabel = "PORT", defaultValue = "15001", description = "Outbound: the SOCKS5/"
      + "HTTP CONNECT entry in local mode, the capture listener with --capture transparent (default: ${DEFAULT-VALUE}).")
  int entryPort;

  @Option(names = "--inbound-port", paramLabel = "PORT", defaultValue = "15006", description = "Plaintext inbound "
      + "(default: ${DEFAULT-VALUE}).")
  int inboundPort;

  @Option(names = "--hbone-port", paramLabel = "PORT", defaultValue = "15008", description = "HBONE server (default: "
      + "${DEFAULT-VALUE}).")
  int hbonePort;

  @Option(names = "--admin-port", paramLabel = "PORT", defaultValue = "15020", description = "Health and metrics, on "
      + "--address (default: ${DEFAULT-VALUE}).")
  int adminPort;

  @Option(names = "--debug-admin-port", paramLabel = "PORT", defaultValue = "15000", description = "/config_dump, "
      + "/clusters, /connections; loopback only: the node address if it is loopback, else 127.0.0.1 (default: "
      + "${DEFAULT-VALUE}).")
  int debugAdminPort;

  @Option(names = "--capture", paramLabel = "none|transparent", defaultValue = "none", converter = CaptureConverter.class,
      description = "none: clients name their destination (local mode); transparent: pod traffic arrives redirected "
          + "by eBPF or nftables (default: none).")
  NodeProxyOptions.Capture capture;

  @Option(names = "--ebpf-pins", paramLabel = "DIR", description = "With --capture transparent: eBPF redirection's "
      + "pins (original destinations of redirected connections).")
  Path ebpfPins;

  @Option(names = "--agent-state", paramLabel = "FILE", description = "With --capture transparent: the node agent's "
      + "--state-file (passthrough of eBPF-captured pods leaves from inside their network namespaces).")
  Path agentState;

  @Option(names = "--drain-timeout", paramLabel = "DURATION", defaultValue = "20s", converter = DurationFlag.class,
      description = "On SIGTERM: how long in-flight requests and streams may take to finish before what is left is "
          + "closed (e.g. 20s, 500ms, 0s; default: 20s). Keep it below Kubernetes' terminationGracePeriodSeconds.")
  Duration drainTimeout;

  @Option(names = "--ready-file", paramLabel = "FILE", description = "Write this process's pid to FILE once it is "
      + "ready (as /healthz/ready): a readiness signal of this process alone while a second node proxy shares its "
      + "ports during an upgrade ('trellis restart' waits for it).")
  Path readyFile;

  @Option(names = "--listen-after-ready", paramLabel = "DURATION", defaultValue = "0s",
      converter = DurationFlag.class, description = "Bind the outbound, inbound and HBONE ports only once ready "
      + "(configuration and SVIDs), waiting at most DURATION (e.g. 60s); 0s (default): at once. For a proxy started "
      + "beside the running one of its node (an upgrade), which shares its ports.")
  Duration listenAfterReady;

  @Mixin TelemetryFlags telemetry;

  @Mixin HttpLimitsFlags httpLimits;

  public static void main(String[] args) {
    CommandLines.defaultLogLevel("info");
    int code = run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args);
    if (code != 0) {
      System.exit(code);
    }
  }

  /** Runs the command line (blocking while the proxy runs) and returns its exit code. */
  static int run(PrintWriter out, PrintWriter err, String... args) {
    // The container image passes the subcommand word too (`node-proxy --node …`, `node-agent --kubernetes …`).
    if (args.length > 0 && args[0].equals("node-proxy")) {
      args = Arrays.copyOfRange(args, 1, args.length);
    }
    if (args.length > 0 && (args[0].equals("agent") || args[0].equals("node-agent"))) {
      return NodeAgentMain.run(out, err, Arrays.copyOfRange(args, 1, args.length));
    }
    if (args.length > 0 && args[0].equals("standalone")) {
      return StandaloneMain.run(out, err, Arrays.copyOfRange(args, 1, args.length));
    }
    return CommandLines.execute(new NodeProxyMain(), out, err, args);
  }

  /**
   * The node's token: {@code --token}, else the contents of {@code --token-file}.
   *
   * @throws ParameterException if there is neither, or the file cannot be read
   */
  String token() {
    if (token != null) {
      return token;
    }
    if (tokenFile == null) {
      throw usage("give --token or --token-file (the node's token from the mesh file)");
    }
    try {
      return Files.readString(tokenFile, StandardCharsets.UTF_8).strip();
    } catch (IOException e) {
      throw usage("cannot read --token-file " + tokenFile + ": " + e.getMessage());
    }
  }

  /**
   * The options the flags ask for, with the node's token.
   *
   * @throws ParameterException naming flags that do not go together
   */
  NodeProxyOptions options(String nodeToken) {
    NodeProxyOptions options = NodeProxyOptions.local(node, address, controlPlane, nodeToken)
        .withPorts(entryPort, hbonePort, adminPort).withInboundPort(inboundPort).withDebugAdminPort(debugAdminPort)
        .withCapture(capture).withHttpLimits(httpLimits());
    if (token == null && tokenFile != null) {
      options = options.withTokenFile(tokenFile); // a projected token is rotated
    }
    if (controlPlaneCa != null) {
      options = options.withControlPlaneCa(controlPlaneCa);
    }
    if (agentState != null) {
      if (capture != NodeProxyOptions.Capture.TRANSPARENT) {
        throw usage("--agent-state needs --capture transparent (it finds captured pods' network namespaces)");
      }
      options = options.withAgentState(agentState);
    }
    if (ebpfPins != null && capture != NodeProxyOptions.Capture.TRANSPARENT) {
      throw usage("--ebpf-pins needs --capture transparent");
    }
    return options;
  }

  /**
   * The HTTP timeouts and limits the flags ask for.
   *
   * @throws ParameterException naming the flag and what it expects
   */
  HttpLimits httpLimits() {
    try {
      return httpLimits.limits();
    } catch (IllegalArgumentException e) {
      throw usage(e.getMessage());
    }
  }

  /**
   * The telemetry the flags ask for, or null for {@code --telemetry off}.
   *
   * @throws ParameterException naming the flag and what it expects
   */
  TelemetrySettings telemetrySettings() {
    try {
      return telemetry.settings();
    } catch (IllegalArgumentException e) {
      throw usage(e.getMessage());
    }
  }

  private ParameterException usage(String message) {
    return new ParameterException(spec.commandLine(), message);
  }

  @Override
  public Integer call() throws Exception {
    NodeProxyOptions options = options(token());
    TelemetrySettings telemetrySettings = telemetrySettings();
    if (controlPlaneCa != null) {
      if (!awaitControlPlaneCa()) {
        return 0; // interrupted: the JVM is on its way out
      }
      try {
        ControlPlaneChannel.readRoots(controlPlaneCa); // fail here, naming the flag, rather than on the first call
      } catch (IOException e) {
        throw usage(e.getMessage());
      }
    }
    StartupWarmup warmup = StartupWarmup.start(); // after the flags' own checks: a usage error starts nothing
    if (capture == NodeProxyOptions.Capture.TRANSPARENT && System.getProperty("trellis.transport") == null) {
      System.setProperty("trellis.transport", "epoll"); // IP_TRANSPARENT needs Netty's native transport
    }
    NodeProxy.RedirectLookup redirects = null;
    if (ebpfPins != null) {
      try {
        redirects = new EbpfOriginalDestinations(ebpfPins)::find;
      } catch (IOException e) {
        throw new IOException("--ebpf-pins: " + e.getMessage(), e);
      }
    }
    Telemetry telemetry = telemetrySettings == null ? Telemetry.disabled()
        : Telemetry.create(telemetrySettings, "trellis-node-proxy", Attributes.builder()
            .put("trellis.node", options.node()).put("service.instance.id", options.node()).build());
    NodeProxy proxy = new NodeProxy(options, Clock.systemUTC(), redirects, telemetry).listenAfterReady(listenAfterReady)
        .warmup(warmup).start();
    PrintWriter out = spec.commandLine().getOut();
    out.println("node proxy " + options.node() + " up on " + options.address() + ": "
        + (options.capture() == NodeProxyOptions.Capture.TRANSPARENT ? "outbound capture " : "entry (SOCKS5) ")
        + proxy.entryPort() + ", inbound " + proxy.inboundPort() + ", HBONE " + proxy.hbonePort() + ", health and metrics "
        + "http://" + options.address() + ":" + proxy.adminPort() + "/metrics, debug admin (this machine only) http://"
        + hostPort(proxy.debugAdminAddress()) + "/config_dump");
    out.flush();
    watchReadiness(proxy);
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      drainThenClose(proxy, drainTimeout);
      stopped.countDown();
    }));
    stopped.await();
    return 0;
  }

  /**
   * Until the proxy is first ready, checks every 10 ms; then logs how long the start took ({@link StartupTimes}) and
   * writes {@code --ready-file} if asked.
   */
  private void watchReadiness(NodeProxy proxy) {
    ScheduledExecutorService readiness = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform()
        .name("trellis-readiness").daemon().factory());
    CompletableFuture<Instant> ready = ReadyFile.firstReady(proxy::ready, Clock.systemUTC(), readiness,
        Duration.ofMillis(10));
    ready.thenApply(at -> {
      log.info("node proxy {} {}", node, StartupTimes.ofThisProcess(MAIN_STARTED, at).describe());
      return readyFile == null ? null : ReadyFile.write(readyFile, ProcessHandle.current().pid());
    }).whenComplete((file, e) -> {
      readiness.shutdown();
      if (e != null) {
        PrintWriter err = spec.commandLine().getErr();
        err.println("error: " + (e.getCause() != null ? e.getCause() : e).getMessage());
        err.flush();
      }
    });
  }

  /**
   * In a cluster the control plane writes the bundle (ConfigMap trellis-ca-root-cert) once it runs, and the kubelet
   * projects it into the optional volume within a minute: wait for it rather than crash-loop. False if interrupted.
   */
  private boolean awaitControlPlaneCa() {
    if (Files.exists(controlPlaneCa)) {
      return true;
    }
    PrintWriter err = spec.commandLine().getErr();
    err.println("waiting for --control-plane-ca " + controlPlaneCa + " (the control plane's root bundle: ConfigMap "
        + "trellis-ca-root-cert, written when the control plane starts)");
    err.flush();
    while (!Files.exists(controlPlaneCa)) {
      try {
        Thread.sleep(1000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
    return true;
  }

  private static String hostPort(InetSocketAddress a) {
    String host = a.getAddress().getHostAddress();
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
  }

  /** {@code --capture}'s values, in lower case. */
  /**
   * SIGTERM: drain (readiness false, listeners closed, clients told to leave, in-flight work finishes), then close.
   * Returns as soon as every connection has ended, at the latest shortly after {@code timeout}.
   */
  static void drainThenClose(NodeProxy proxy, Duration timeout) {
    try {
      ConnectionDrain.Result r = proxy.drain(timeout).get(timeout.toMillis() + 5000, TimeUnit.MILLISECONDS);
      log.info("drained in {} ms; {} connection(s) closed at the drain timeout", r.took().toMillis(),
          r.closedAtTimeout());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      log.warn("drain did not complete: {}", e.toString());
    } finally {
      proxy.close();
    }
  }

  static final class CaptureConverter implements ITypeConverter<NodeProxyOptions.Capture> {
    @Override
    public NodeProxyOptions.Capture convert(String value) {
      return switch (value) {
        case "none" -> NodeProxyOptions.Capture.NONE;
        case "transparent" -> NodeProxyOptions.Capture.TRANSPARENT;
        default -> throw new TypeConversionException("'" + value + "' (expected: none or transparent)");
      };
    }
  }

  /** A duration flag: {@code 0s}, {@code 500ms}, {@code 60s}, {@code 2m}. */
  static final class DurationFlag implements ITypeConverter<Duration> {
    private static final Pattern DURATION = Pattern.compile("(\\d{1,9})(ms|s|m)");

    @Override
    public Duration convert(String value) {
      Matcher m = DURATION.matcher(value.strip());
      if (!m.matches()) {
        throw new TypeConversionException("'" + value + "' (expected: a duration such as 0s, 500ms, 60s, 2m)");
      }
      long n = Long.parseLong(m.group(1));
      return switch (m.group(2)) {
        case "ms" -> Duration.ofMillis(n);
        case "s" -> Duration.ofSeconds(n);
        default -> Duration.ofMinutes(n);
      };
    }
  }
}
