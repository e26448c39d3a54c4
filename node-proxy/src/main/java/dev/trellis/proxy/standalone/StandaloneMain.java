package dev.trellis.proxy.standalone;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.svid.IssuedSvid;
import dev.trellis.proxy.flags.CommandLines;
import dev.trellis.proxy.flags.TelemetryFlags;
import dev.trellis.telemetry.config.TelemetrySettings;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code trellis node-proxy standalone --role source|destination ...}: a node proxy without a control plane
 * (benchmarks, debugging). Runs in the foreground until SIGTERM or SIGINT.
 */
@Command(name = "trellis node-proxy standalone", mixinStandardHelpOptions = true, version = "trellis 0.1.0-SNAPSHOT",
    description = {
        "A node proxy without a control plane (benchmarks, debugging). The source role takes every connection on "
            + "--listen as bound for one service: HTTP (routed per request, the default) or TCP; its one endpoint is "
            + "--upstream, reached over HBONE through the destination proxy at --peer, which must present --peer-id. "
            + "The destination role is an HBONE server for the workload at --workload. Certificates are PEM: an "
            + "X.509-SVID (one SPIFFE URI SAN), its PKCS#8 key, and the CA roots. Telemetry is off unless --telemetry "
            + "is given (docs/telemetry.md).",
        "",
        "source:      --role source --listen HOST:PORT --cert F --key F --ca F",
        "             --peer HOST:PORT --peer-id SPIFFE_ID --upstream HOST:PORT",
        "             [--protocol http|tcp] [--source-address 127.0.0.1]",
        "destination: --role destination --listen HOST:PORT --cert F --key F --ca F",
        "             --workload ADDRESS [--http-port P]",
        ""})
public final class StandaloneMain implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Option(names = "--role", required = true, paramLabel = "source|destination", description = "Which end of the "
      + "tunnel this proxy is.")
  String role;

  @Option(names = "--listen", required = true, paramLabel = "HOST:PORT", description = "Where it takes connections.")
  String listen;

  @Option(names = "--cert", required = true, paramLabel = "FILE", description = "Its X.509-SVID (PEM).")
  Path cert;

  @Option(names = "--key", required = true, paramLabel = "FILE", description = "The SVID's PKCS#8 key (PEM).")
  Path key;

  @Option(names = "--ca", required = true, paramLabel = "FILE", description = "The CA roots (PEM).")
  Path ca;

  @Option(names = "--peer", paramLabel = "HOST:PORT", description = "Source: the destination proxy's HBONE address.")
  String peer;

  @Option(names = "--peer-id", paramLabel = "SPIFFE_ID", description = "Source: the identity the destination proxy "
      + "must present.")
  String peerId;

  @Option(names = "--upstream", paramLabel = "HOST:PORT", description = "Source: the service's one endpoint.")
  String upstream;

  @Option(names = "--protocol", paramLabel = "http|tcp", defaultValue = "http", description = "Source: the service's "
      + "protocol (default: ${DEFAULT-VALUE}).")
  String protocol;

  @Option(names = "--source-address", paramLabel = "IP", defaultValue = "127.0.0.1", description = "Source: the "
      + "address its upstream connections leave from (default: ${DEFAULT-VALUE}).")
  String sourceAddress;

  @Option(names = "--workload", paramLabel = "ADDRESS", description = "Destination: the workload's address.")
  String workload;

  @Option(names = "--http-port", paramLabel = "P", defaultValue = "0", description = "Destination: the workload's "
      + "HTTP port (0: none).")
  int httpPort;

  @Option(names = "--threads", paramLabel = "N", description = "Event loop threads (default: one per processor).")
  Integer threads;

  @Mixin TelemetryFlags telemetry;

  public static void main(String[] args) {
    int code = run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args);
    if (code != 0) {
      System.exit(code);
    }
  }

  /** Runs the command line (blocking while the proxy runs) and returns its exit code. */
  public static int run(PrintWriter out, PrintWriter err, String... args) {
    return CommandLines.execute(new StandaloneMain(), out, err, args);
  }

  @Override
  public Integer call() throws Exception {
    StandaloneProxy.Options o = options();
    StandaloneProxy proxy = StandaloneProxy.start(o);
    CountDownLatch stop = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      proxy.close();
      stop.countDown();
    }));
    PrintWriter err = spec.commandLine().getErr();
    err.println("trellis standalone " + o.role().name().toLowerCase(Locale.ROOT) + " on " + o.listen() + " as "
        + o.svid().svid().id());
    err.flush();
    stop.await();
    return 0;
  }

  /**
   * The options the flags ask for, with the certificate files read.
   *
   * @throws ParameterException naming the flag that is missing or wrong, or the file that cannot be read
   */
  StandaloneProxy.Options options() {
    StandaloneProxy.Role r = switch (role) {
      case "source" -> StandaloneProxy.Role.SOURCE;
      case "destination" -> StandaloneProxy.Role.DESTINATION;
      default -> throw usage("--role must be source or destination, got '" + role + "'");
    };
    IssuedSvid svid;
    try {
      svid = StandaloneProxy.load(Files.readString(cert), Files.readString(key), Files.readString(ca));
    } catch (IOException | RuntimeException e) {
      throw usage("--cert, --key, --ca: " + e.getMessage());
    }
    int n = threads != null ? threads : Runtime.getRuntime().availableProcessors();
    TelemetrySettings settings;
    try {
      // Telemetry only when asked for (--telemetry on): the benchmark's baseline is the proxy without it.
      settings = telemetry.modeGiven() ? telemetry.settings() : null;
    } catch (IllegalArgumentException e) {
      throw usage(e.getMessage());
    }
    if (r == StandaloneProxy.Role.SOURCE) {
      if (!protocol.equals("http") && !protocol.equals("tcp")) {
        throw usage("--protocol must be http or tcp, got '" + protocol + "'");
      }
      SpiffeId expected;
      try {
        expected = SpiffeId.parse(require(peerId, "peer-id"));
      } catch (IllegalArgumentException e) {
        throw usage("--peer-id: " + e.getMessage());
      }
      return new StandaloneProxy.Options(r, address(listen, "listen"), svid, n, sourceAddress,
          address(require(peer, "peer"), "peer"), expected, address(require(upstream, "upstream"), "upstream"),
          protocol, null, 0, settings);
    }
    return new StandaloneProxy.Options(r, address(listen, "listen"), svid, n, null, null, null, null, null,
        require(workload, "workload"), httpPort, settings);
  }

  private String require(String value, String flag) {
    if (value == null || value.isBlank()) {
      throw usage("--" + flag + " is required for --role " + role);
    }
    return value;
  }

  private InetSocketAddress address(String hostPort, String flag) {
    int c = hostPort.lastIndexOf(':');
    try {
      if (c <= 0) {
        throw new IllegalArgumentException("no port");
      }
      return new InetSocketAddress(hostPort.substring(0, c), Integer.parseInt(hostPort.substring(c + 1)));
    } catch (IllegalArgumentException e) {
      throw usage("--" + flag + " '" + hostPort + "' is not HOST:PORT");
    }
  }

  private ParameterException usage(String message) {
    return new ParameterException(spec.commandLine(), message);
  }
}
