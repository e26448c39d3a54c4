package dev.trellis.controlplane;

import dev.trellis.ca.server.BearerAuthInterceptor;
import dev.trellis.controlplane.cluster.Leadership;
import dev.trellis.controlplane.config.MeshFileException;
import dev.trellis.controlplane.model.MeshEgress;
import dev.trellis.controlplane.model.MtlsMode;
import dev.trellis.controlplane.server.ControlPlane;
import dev.trellis.controlplane.server.ControlPlaneOptions;
import dev.trellis.mtls.MtlsException;
import dev.trellis.mtls.identity.TrustDomain;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code control-plane}: runs the control plane (local mode, or in a cluster) until interrupted. The container image
 * runs it through {@link ControlPlaneMain}; the {@code trellis} CLI offers the same command.
 */
@Command(name = "control-plane", mixinStandardHelpOptions = true, description = {
    "Run the control plane until Ctrl-C: in local mode on a mesh file (reloaded when it changes), or with",
    "--kubernetes from the cluster's objects (in-cluster config or ~/.kube/config; docs/kubernetes.md).",
    "Serves xDS (state-of-the-world and delta) and the CA on --xds-port (plaintext) and --xds-tls-port (TLS),",
    "health, metrics and debug on --admin-port."})
public final class ControlPlaneCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Option(names = "--mesh", defaultValue = "examples/mesh.yaml", description = "Mesh file (default: ${DEFAULT-VALUE}).")
  Path mesh;

  @Option(names = "--state-dir", defaultValue = ".trellis", description = "Local state; the CA root lives in <state-dir>/ca.")
  Path stateDir;

  @Option(names = "--bind", defaultValue = "127.0.0.1", description = "Address to listen on (default: ${DEFAULT-VALUE}).")
  String bind;

  @Option(names = "--xds-port", defaultValue = "15010", description = "Plaintext xDS + CA (default: ${DEFAULT-VALUE}).")
  int xdsPort;

  @Option(names = "--xds-tls-port", defaultValue = "15012", description = "TLS xDS + CA (default: ${DEFAULT-VALUE}).")
  int xdsTlsPort;

  @Option(names = "--admin-port", defaultValue = "15014", description = "Admin HTTP (default: ${DEFAULT-VALUE}).")
  int adminPort;

  @Option(names = "--poll-interval", defaultValue = "1s", converter = DurationConverter.class,
      description = "How often the mesh file is checked for changes (default: ${DEFAULT-VALUE}).")
  Duration pollInterval;

  @Option(names = "--debounce", defaultValue = "100ms", converter = DurationConverter.class,
      description = "Quiet period before a change is pushed; bursts are pushed at most 1s after they start "
          + "(default: ${DEFAULT-VALUE}).")
  Duration debounce;

  @Option(names = "--anonymous-xds", negatable = true, description = "Serve xDS clients without a token (e.g. proxyless "
      + "gRPC with an insecure bootstrap) the global configuration, under their own limits (256 streams in all, "
      + "1,000 names per type). Default: on in local mode, off with --kubernetes.")
  Boolean anonymousXds;

  @Option(names = "--admin-token-file", description = "File holding a token (at least 16 characters) that reads the "
      + "admin port's /debug pages from anywhere ('Authorization: Bearer <token>'). Without it only callers on this host "
      + "and node tokens (their own node's view) may.")
  Path adminTokenFile;

  @Option(names = "--kubernetes", description = "Cluster mode: read the mesh from the API server, keep the CA root in a "
      + "Secret, authenticate node proxies by TokenReview.")
  boolean kubernetes;

  @Option(names = "--namespace", description = "Cluster mode: the control plane's namespace (default: $POD_NAMESPACE, "
      + "else trellis-system).")
  String namespace;

  @Option(names = "--pod-name", description = "Cluster mode: this replica's name in the leader Lease (default: "
      + "$POD_NAME, else the host name).")
  String podName;

  @Option(names = "--trusted-node-proxies", split = ",", description = "Cluster mode: service accounts (namespace/name) "
      + "whose pods may act as node proxies (default: <namespace>/trellis-node-proxy).")
  List<String> trustedNodeProxies;

  @Option(names = "--trust-domain", defaultValue = "cluster.local", description = "Cluster mode: SPIFFE trust domain "
      + "(default: ${DEFAULT-VALUE}).")
  String trustDomain;

  @Option(names = "--cluster-domain", defaultValue = "cluster.local", description = "Cluster mode: DNS suffix of "
      + "services (default: ${DEFAULT-VALUE}).")
  String clusterDomain;

  @Option(names = "--egress-allow-cidrs", split = ",", description = "Cluster mode: address prefixes captured pods "
      + "may reach by passthrough although they are link-local or a node's own address (refused by default), e.g. "
      + "169.254.169.254/32 for a cloud metadata server. Local mode: the mesh file's egress.allowCidrs.")
  List<String> egressAllowCidrs;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    if (kubernetes) {
      return runInCluster(out);
    }
    ControlPlaneOptions options = ControlPlaneOptions.local(mesh, stateDir).withPorts(xdsPort, xdsTlsPort, adminPort)
        .withBind(bind).withPollInterval(pollInterval)
        .withDebounce(debounce, debounce.compareTo(Duration.ofSeconds(1)) > 0 ? debounce : Duration.ofSeconds(1));
    options = withAccessOptions(options);
    ControlPlane cp;
    try {
      cp = new ControlPlane(options, Clock.systemUTC()).start();
    } catch (MeshFileException e) {
      spec.commandLine().getErr().println("error: the mesh file cannot be used:");
      e.problems().forEach(p -> spec.commandLine().getErr().println("  " + p));
      return 2;
    }
    String admin = "http://" + bind + ":" + cp.adminPort();
    out.println("Trellis control plane is up (local mode), serving " + mesh);
    out.println("  trust domain " + cp.mesh().trustDomain() + ", " + cp.mesh().services().size() + " services, "
        + cp.mesh().workloads().size() + " workloads on " + cp.mesh().nodes().size() + " nodes");
    out.println("  xDS + CA  " + bind + ":" + cp.xdsPort() + " (plaintext), " + bind + ":" + cp.xdsTlsPort() + " (TLS)");
    out.println("  admin     " + admin);
    out.println("Look at what it serves:");
    out.println("  curl -s " + admin + "/debug/config | less     # every resource, as JSON");
    out.println("  curl -s " + admin + "/debug/clients           # connected xDS clients, ACKs and NACKs");
    out.println("  curl -s " + admin + "/metrics");
    out.println("Edit " + mesh + " and the change is pushed within a second. Ctrl-C stops.");
    out.flush();
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      cp.close();
      stopped.countDown();
    }));
    stopped.await();
    return 0;
  }

  private Integer runInCluster(PrintWriter out) throws Exception {
    String ns = namespace != null ? namespace : envOr("POD_NAMESPACE", "trellis-system");
    String pod = podName != null ? podName : envOr("POD_NAME", InetAddress.getLocalHost().getHostName());
    ControlPlaneOptions.Cluster cluster;
    try {
      cluster = new ControlPlaneOptions.Cluster(ns, pod, Set.copyOf(trustedNodeProxies != null
          ? trustedNodeProxies : List.of(ns + "/trellis-node-proxy")),
          TrustDomain.of(trustDomain), clusterDomain,
          MtlsMode.PERMISSIVE,
          Leadership.Timings.defaults(), Duration.ofMinutes(2));
    } catch (IllegalArgumentException | MtlsException e) {
      spec.commandLine().getErr().println("error: " + e.getMessage());
      return 2;
    }
    try {
      cluster = cluster.withEgress(new MeshEgress(egressAllowCidrs == null
          ? List.of() : egressAllowCidrs.stream().filter(c -> !c.isBlank()).toList()));
    } catch (IllegalArgumentException e) {
      spec.commandLine().getErr().println("error: --egress-allow-cidrs: " + e.getMessage());
      return 2;
    }
    ControlPlaneOptions options = ControlPlaneOptions.kubernetes(cluster).withPorts(xdsPort, xdsTlsPort, adminPort)
        .withBind(bind).withDebounce(debounce, debounce.compareTo(Duration.ofSeconds(1)) > 0 ? debounce
            : Duration.ofSeconds(1));
    options = withAccessOptions(options);
    KubernetesClient client = new KubernetesClientBuilder()
        .build();
    ControlPlane cp;
    try {
      cp = new ControlPlane(options, Clock.systemUTC(), client).start();
    } catch (IOException | RuntimeException e) {
      spec.commandLine().getErr().println("error: the control plane could not start in cluster mode: " + e.getMessage());
      client.close();
      return 1;
    }
    out.println("Trellis control plane is up (cluster mode, namespace " + ns + ", replica " + pod + ")");
    out.println("  trust domain " + cp.mesh().trustDomain() + ", " + cp.mesh().services().size() + " services, "
        + cp.mesh().workloads().size() + " workloads on " + cp.mesh().nodes().size() + " nodes");
    out.println("  xDS + CA  " + bind + ":" + cp.xdsPort() + " (plaintext), " + bind + ":" + cp.xdsTlsPort() + " (TLS)");
    out.println("  admin     http://" + bind + ":" + cp.adminPort() + " (/debug: from this pod"
        + (adminTokenFile != null ? ", the admin token" : "") + " or a node proxy's token)");
    out.println("  anonymous xDS " + (options.anonymousXds() == BearerAuthInterceptor.Anonymous.ALLOW
        ? "served (global view, anonymous limits)" : "refused (--anonymous-xds serves it)"));
    out.flush();
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      cp.close();
      client.close();
      stopped.countDown();
    }));
    stopped.await();
    return 0;
  }

  /** --anonymous-xds / --no-anonymous-xds over the mode's default, and --admin-token-file. */
  ControlPlaneOptions withAccessOptions(ControlPlaneOptions options) {
    ControlPlaneOptions o = options.withAdminTokenFile(adminTokenFile);
    if (anonymousXds != null) {
      o = o.withAnonymousXds(anonymousXds ? BearerAuthInterceptor.Anonymous.ALLOW
          : BearerAuthInterceptor.Anonymous.REJECT);
    }
    return o;
  }

  private static String envOr(String name, String fallback) {
    String v = System.getenv(name);
    return v == null || v.isBlank() ? fallback : v;
  }
}
