package dev.trellis.proxy.standalone;

import dev.trellis.mtls.identity.SpiffeId;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;

/**
 * {@code trellis node-proxy standalone --role source|destination ...}: see {@link #USAGE}. Runs in the
 * foreground until SIGTERM or SIGINT.
 */
public final class StandaloneMain {

  static final String USAGE = """
      usage: trellis node-proxy standalone --role source --listen HOST:PORT --cert FILE --key FILE --ca FILE
                 --peer HOST:PORT --peer-id SPIFFE_ID --upstream HOST:PORT [--protocol http|tcp]
                 [--source-address 127.0.0.1] [--threads N]
             trellis node-proxy standalone --role destination --listen HOST:PORT --cert FILE --key FILE --ca FILE
                 --workload ADDRESS [--http-port P (the workload's HTTP port)] [--threads N]
             both roles: [--telemetry on --tracing-sampling R --zipkin URL|--otlp-grpc URL|--otlp-http URL
                 --access-log SINK ...] (docs/telemetry.md; off unless --telemetry is given)

      A node proxy without a control plane (benchmarks, debugging). The source role takes every connection
      on --listen as bound for one service: HTTP (routed per request, the default) or TCP; its one endpoint
      is --upstream, reached over HBONE through the destination proxy at --peer, which must present
      --peer-id. The destination role is an HBONE server for the workload at --workload. Certificates are
      PEM: an X.509-SVID (one SPIFFE URI SAN), its PKCS#8 key, and the CA roots.""";

  private static final Set<String> FLAGS = Set.of("role", "listen", "cert", "key", "ca", "peer", "peer-id", "upstream",
      "protocol", "source-address", "threads", "workload", "http-port", "telemetry", "tracing-sampling", "otlp-grpc",
      "otlp-http", "zipkin", "max-queued-spans", "access-log", "access-log-sampling");

  private StandaloneMain() {}

  public static void main(String[] args) throws Exception {
    StandaloneProxy.Options o;
    try {
      o = parse(args);
    } catch (IllegalArgumentException | IOException e) {
      System.err.println("trellis node-proxy standalone: " + e.getMessage());
      System.err.println(USAGE);
      System.exit(2);
      return;
    }
    StandaloneProxy proxy = StandaloneProxy.start(o);
    CountDownLatch stop = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      proxy.close();
      stop.countDown();
    }));
    System.err.println("trellis standalone " + o.role().name().toLowerCase() + " on " + o.listen() + " as "
        + o.svid().svid().id());
    stop.await();
  }

  static StandaloneProxy.Options parse(String[] args) throws IOException {
    Map<String, String> m = new HashMap<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (!a.startsWith("--") || i + 1 >= args.length) {
        throw new IllegalArgumentException("expected --flag value pairs, got '" + a + "'");
      }
      String k = a.substring(2);
      int eq = k.indexOf('=');
      if (eq > 0) {
        m.put(k.substring(0, eq), k.substring(eq + 1));
        continue;
      }
      if (!FLAGS.contains(k)) {
        throw new IllegalArgumentException("unknown flag --" + k);
      }
      m.put(k, args[++i]);
    }
    StandaloneProxy.Role role = switch (require(m, "role")) {
      case "source" -> StandaloneProxy.Role.SOURCE;
      case "destination" -> StandaloneProxy.Role.DESTINATION;
      default -> throw new IllegalArgumentException("--role must be source or destination, got '" + m.get("role") + "'");
    };
    var svid = StandaloneProxy.load(Files.readString(Path.of(require(m, "cert"))), Files.readString(Path.of(require(m, "key"))),
        Files.readString(Path.of(require(m, "ca"))));
    int threads = Integer.parseInt(m.getOrDefault("threads", Integer.toString(Runtime.getRuntime().availableProcessors())));
    // Telemetry only when asked for (--telemetry on): the benchmark's baseline is the proxy without it.
    dev.trellis.telemetry.TelemetrySettings telemetry = m.containsKey("telemetry")
        ? dev.trellis.proxy.TelemetryFlags.parse(m) : null;
    if (role == StandaloneProxy.Role.SOURCE) {
      String protocol = m.getOrDefault("protocol", "http");
      if (!protocol.equals("http") && !protocol.equals("tcp")) {
        throw new IllegalArgumentException("--protocol must be http or tcp, got '" + protocol + "'");
      }
      return new StandaloneProxy.Options(role, address(require(m, "listen")), svid, threads,
          m.getOrDefault("source-address", "127.0.0.1"), address(require(m, "peer")), SpiffeId.parse(require(m, "peer-id")),
          address(require(m, "upstream")), protocol, null, 0, telemetry);
    }
    return new StandaloneProxy.Options(role, address(require(m, "listen")), svid, threads, null, null, null, null, null,
        require(m, "workload"), Integer.parseInt(m.getOrDefault("http-port", "0")), telemetry);
  }

  private static String require(Map<String, String> m, String flag) {
    String v = m.get(flag);
    if (v == null || v.isBlank()) {
      throw new IllegalArgumentException("--" + flag + " is required");
    }
    return v;
  }

  private static InetSocketAddress address(String hostPort) {
    int c = hostPort.lastIndexOf(':');
    if (c <= 0) {
      throw new IllegalArgumentException("'" + hostPort + "' is not HOST:PORT");
    }
    return new InetSocketAddress(hostPort.substring(0, c), Integer.parseInt(hostPort.substring(c + 1)));
  }
}
