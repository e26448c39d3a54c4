package dev.trellis.controlplane.cli;

import dev.trellis.controlplane.config.MeshFileException;
import dev.trellis.controlplane.server.ControlPlane;
import dev.trellis.controlplane.server.ControlPlaneOptions;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code trellis control-plane}: runs the control plane in local mode until interrupted. */
@Command(name = "control-plane", description = {
    "Run the control plane in local mode on a mesh file (reloaded when it changes) until Ctrl-C.",
    "Serves xDS (state-of-the-world and delta) and the CA on --xds-port (plaintext) and --xds-tls-port (TLS),",
    "health, metrics and debug on --admin-port."})
final class ControlPlaneCommand implements Callable<Integer> {

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
  java.time.Duration pollInterval;

  @Option(names = "--debounce", defaultValue = "100ms", converter = DurationConverter.class,
      description = "Quiet period before a change is pushed; bursts are pushed at most 1s after they start "
          + "(default: ${DEFAULT-VALUE}).")
  java.time.Duration debounce;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    ControlPlaneOptions options = ControlPlaneOptions.local(mesh, stateDir).withPorts(xdsPort, xdsTlsPort, adminPort)
        .withBind(bind).withPollInterval(pollInterval)
        .withDebounce(debounce, debounce.compareTo(java.time.Duration.ofSeconds(1)) > 0 ? debounce : java.time.Duration.ofSeconds(1));
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
}
