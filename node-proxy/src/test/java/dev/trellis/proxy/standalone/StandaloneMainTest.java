package dev.trellis.proxy.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.svid.Pem;
import dev.trellis.mtls.testing.TestPki;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The standalone proxy's command line, as scripts/bench-proxy passes it. */
class StandaloneMainTest {

  @TempDir
  Path dir;

  String pem;

  @BeforeEach
  void certificates() throws Exception {
    TestPki pki = TestPki.newRoot(TrustDomain.CLUSTER_LOCAL);
    TestPki.Minted leaf = pki.leaf("bench", "source").mint();
    Files.writeString(dir.resolve("cert.pem"), Pem.encodeCertificates(leaf.chain()));
    Files.writeString(dir.resolve("key.pem"), Pem.encodePrivateKey(leaf.key()));
    Files.writeString(dir.resolve("ca.pem"), Pem.encodeCertificate(pki.root()));
    pem = "--cert " + dir.resolve("cert.pem") + " --key " + dir.resolve("key.pem") + " --ca " + dir.resolve("ca.pem");
  }

  static StandaloneProxy.Options parse(String args) {
    StandaloneMain command = new StandaloneMain();
    new CommandLine(command).parseArgs(args.strip().split(" +"));
    return command.options();
  }

  record Run(int exitCode, String out, String err) {}

  static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = StandaloneMain.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
    return new Run(code, out.toString(), err.toString());
  }

  record Row(String args, Function<StandaloneProxy.Options, Object> field, Object expected) {}

  @Test
  void everyFlagLandsInTheOptions() {
    String source = "--role source --listen 127.0.0.1:7000 " + pem + " --peer 127.0.0.2:15008"
        + " --peer-id spiffe://cluster.local/ns/bench/sa/destination --upstream 127.0.0.3:8080 ";
    String destination = "--role destination --listen 127.0.0.2:15008 " + pem + " --workload 127.0.0.3 ";
    List<Row> rows = List.of(
        new Row(source, StandaloneProxy.Options::role, StandaloneProxy.Role.SOURCE),
        new Row(source, StandaloneProxy.Options::listen, new InetSocketAddress("127.0.0.1", 7000)),
        new Row(source, o -> o.svid().svid().id(), SpiffeId.parse("spiffe://cluster.local/ns/bench/sa/source")),
        new Row(source, StandaloneProxy.Options::peer, new InetSocketAddress("127.0.0.2", 15008)),
        new Row(source, StandaloneProxy.Options::peerId,
            SpiffeId.parse("spiffe://cluster.local/ns/bench/sa/destination")),
        new Row(source, StandaloneProxy.Options::upstream, new InetSocketAddress("127.0.0.3", 8080)),
        new Row(source, StandaloneProxy.Options::protocol, "http"),
        new Row(source + "--protocol tcp", StandaloneProxy.Options::protocol, "tcp"),
        new Row(source, StandaloneProxy.Options::sourceAddress, "127.0.0.1"),
        new Row(source + "--source-address 127.0.0.9", StandaloneProxy.Options::sourceAddress, "127.0.0.9"),
        new Row(source, StandaloneProxy.Options::threads, Runtime.getRuntime().availableProcessors()),
        new Row(source + "--threads 3", StandaloneProxy.Options::threads, 3),
        new Row(source, StandaloneProxy.Options::telemetry, null),
        new Row(source + "--telemetry on --zipkin http://z:9411/api/v2/spans", o -> o.telemetry().tracing(), true),
        new Row(destination, StandaloneProxy.Options::role, StandaloneProxy.Role.DESTINATION),
        new Row(destination, StandaloneProxy.Options::workloadAddress, "127.0.0.3"),
        new Row(destination, StandaloneProxy.Options::workloadHttpPort, 0),
        new Row(destination + "--http-port 8080", StandaloneProxy.Options::workloadHttpPort, 8080));
    for (Row row : rows) {
      assertThat(row.field().apply(parse(row.args()))).as(row.args()).isEqualTo(row.expected());
    }
  }

  @Test
  void aMistypedFlagIsRefusedNamingIt() {
    Run r = run(("--role destination --listen 127.0.0.2:15008 " + pem + " --workload 127.0.0.3 --wrokload x")
        .split(" "));
    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err()).contains("'--wrokload'").contains("Usage: trellis node-proxy standalone");
  }

  @Test
  void whatTheRoleNeedsIsChecked() {
    Run r = run(("--role source --listen 127.0.0.1:7000 " + pem).split(" "));
    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err()).contains("--peer-id is required for --role source");
    assertThat(run(("--role sideways --listen 127.0.0.1:7000 " + pem).split(" ")).err())
        .contains("--role must be source or destination, got 'sideways'");
    assertThat(run(("--role destination --listen 7000 " + pem + " --workload w").split(" ")).err())
        .contains("--listen '7000' is not HOST:PORT");
  }

  @Test
  void helpWorks() {
    Run help = run("--help");
    assertThat(help.exitCode()).isZero();
    assertThat(help.out()).contains("Usage: trellis node-proxy standalone").contains("--upstream").contains("--zipkin");
  }
}
