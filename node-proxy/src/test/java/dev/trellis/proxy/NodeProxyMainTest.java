package dev.trellis.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.proxy.http.HttpLimits;
import dev.trellis.telemetry.config.TelemetrySettings;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The node proxy's command line, as the DaemonSet, `trellis up` and the integration tests pass it. */
class NodeProxyMainTest {

  @TempDir
  Path dir;

  static NodeProxyMain parse(String... args) {
    NodeProxyMain command = new NodeProxyMain();
    new CommandLine(command).setOverwrittenOptionsAllowed(true).parseArgs(args);
    return command;
  }

  record Run(int exitCode, String out, String err) {}

  static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = NodeProxyMain.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
    return new Run(code, out.toString(), err.toString());
  }

  record Row(String args, Function<NodeProxyOptions, Object> field, Object expected) {}

  @Test
  void listenAfterReadyTakesADurationAndNamesWhatItExpects() {
    NodeProxyMain.DurationFlag flag = new NodeProxyMain.DurationFlag();
    assertThat(flag.convert("0s")).isEqualTo(Duration.ZERO);
    assertThat(flag.convert("60s")).isEqualTo(Duration.ofSeconds(60));
    assertThat(flag.convert("500ms")).isEqualTo(Duration.ofMillis(500));
    assertThat(flag.convert("2m")).isEqualTo(Duration.ofMinutes(2));
    assertThatThrownBy(() -> flag.convert("soon"))
        .hasMessageContaining("expected: a duration such as 0s, 500ms, 60s, 2m");
  }

  @Test
  void everyFlagLandsInTheOptions() {
    String base = "--node node-1 --address 127.0.1.1 --token t ";
    String capture = base + "--capture transparent ";
    List<Row> rows = List.of(
        new Row(base, NodeProxyOptions::node, "node-1"),
        new Row(base, NodeProxyOptions::address, "127.0.1.1"),
        new Row(base, NodeProxyOptions::token, "t"),
        new Row(base, NodeProxyOptions::tokenFile, null),
        new Row(base, NodeProxyOptions::controlPlane, "127.0.0.1:15010"),
        new Row(base + "--control-plane 10.0.0.1:15012", NodeProxyOptions::controlPlane, "10.0.0.1:15012"),
        new Row(base, NodeProxyOptions::controlPlaneCa, null),
        new Row(base + "--control-plane-ca /ca.pem", NodeProxyOptions::controlPlaneCa, Path.of("/ca.pem")),
        new Row(base, NodeProxyOptions::entryPort, 15001),
        new Row(base + "--entry-port 1", NodeProxyOptions::entryPort, 1),
        new Row(base, NodeProxyOptions::inboundPort, 15006),
        new Row(base + "--inbound-port 2", NodeProxyOptions::inboundPort, 2),
        new Row(base, NodeProxyOptions::hbonePort, 15008),
        new Row(base + "--hbone-port 3", NodeProxyOptions::hbonePort, 3),
        new Row(base, NodeProxyOptions::adminPort, 15020),
        new Row(base + "--admin-port 4", NodeProxyOptions::adminPort, 4),
        new Row(base, NodeProxyOptions::debugAdminPort, 15000),
        new Row(base + "--debug-admin-port 0", NodeProxyOptions::debugAdminPort, 0),
        new Row(base, NodeProxyOptions::capture, NodeProxyOptions.Capture.NONE),
        new Row(base + "--capture none", NodeProxyOptions::capture, NodeProxyOptions.Capture.NONE),
        new Row(capture, NodeProxyOptions::capture, NodeProxyOptions.Capture.TRANSPARENT),
        new Row(base, NodeProxyOptions::agentState, null),
        new Row(capture + "--agent-state /a.json", NodeProxyOptions::agentState, Path.of("/a.json")),
        new Row(capture + "--ebpf-pins /sys/fs/bpf/trellis", NodeProxyOptions::capture,
            NodeProxyOptions.Capture.TRANSPARENT),
        new Row("--node=node-2 --address=127.0.1.2 --token t", NodeProxyOptions::node, "node-2"),
        new Row(base + "--node node-3", NodeProxyOptions::node, "node-3"), // the last one counts, as before
        new Row(base, NodeProxyOptions::httpLimits, HttpLimits.DEFAULTS),
        new Row(base + "--request-headers-timeout 5s", o -> o.httpLimits().headerTimeout(), Duration.ofSeconds(5)),
        new Row(base + "--idle-timeout 2m", o -> o.httpLimits().idleTimeout(), Duration.ofMinutes(2)),
        new Row(base + "--first-byte-timeout 500ms", o -> o.httpLimits().firstByteTimeout(), Duration.ofMillis(500)),
        new Row(base + "--request-body-timeout 1h", o -> o.httpLimits().requestBodyTimeout(), Duration.ofHours(1)),
        new Row(base + "--max-response-headers-kb 96", o -> o.httpLimits().maxResponseHeaderBytes(), 96 * 1024),
        new Row(base + "--max-response-headers 200", o -> o.httpLimits().maxResponseHeaders(), 200));
    for (Row row : rows) {
      NodeProxyMain command = parse(row.args().strip().split(" "));
      assertThat(row.field().apply(command.options(command.token()))).as(row.args()).isEqualTo(row.expected());
    }
  }

  @Test
  void theTokenFileIsReadAndFollowed() throws Exception {
    Path token = dir.resolve("node-1.token");
    Files.writeString(token, "s3cret\n");
    NodeProxyMain command = parse("--node", "node-1", "--address", "127.0.1.1", "--token-file", token.toString());
    NodeProxyOptions o = command.options(command.token());
    assertThat(o.token()).isEqualTo("s3cret");
    assertThat(o.tokenFile()).isEqualTo(token);
  }

  @Test
  void everyTelemetryFlagLandsInTheSettings() {
    String base = "--node n --address 127.0.1.1 --token t ";
    assertThat(parse(base.strip().split(" ")).telemetrySettings().tracing()).isFalse();
    assertThat(parse((base + "--telemetry off").split(" ")).telemetrySettings()).isNull();
    TelemetrySettings s = parse((base + "--telemetry on --tracing-sampling 0.5 --otlp-grpc http://c:4317"
        + " --otlp-http http://c:4318 --zipkin http://z:9411/api/v2/spans --max-queued-spans 7 --access-log stdout"
        + " --access-log-sampling 0.25").split(" ")).telemetrySettings();
    assertThat(s.samplingRatio()).isEqualTo(0.5);
    assertThat(s.exporters()).containsExactly(new TelemetrySettings.Exporter.OtlpGrpc(URI.create("http://c:4317")),
        new TelemetrySettings.Exporter.OtlpHttp(URI.create("http://c:4318")),
        new TelemetrySettings.Exporter.Zipkin(URI.create("http://z:9411/api/v2/spans")));
    assertThat(s.maxQueuedSpans()).isEqualTo(7);
    assertThat(s.accessLog()).isEqualTo(new TelemetrySettings.AccessLogSettings("stdout", 0.25));
  }

  @Test
  void aMistypedFlagIsRefusedNamingIt() {
    Run r = run("--node", "n", "--address", "127.0.1.1", "--token", "t", "--contol-plane", "x");
    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err()).contains("Unknown options: '--contol-plane'").contains("Possible solutions: --control-plane");
    assertThat(run("node-proxy", "--node", "n", "--address", "a", "--token", "t", "--capture", "tproxy").err())
        .contains("'tproxy' (expected: none or transparent)");
  }

  @Test
  void missingAndConflictingFlagsAreRefusedWithCode2() {
    Run r = run("--address", "127.0.1.1", "--token", "t");
    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err()).contains("--node");
    Run noToken = run("--node", "n", "--address", "127.0.1.1");
    assertThat(noToken.exitCode()).isEqualTo(2);
    assertThat(noToken.err()).contains("give --token or --token-file");
    Run state = run("--node", "n", "--address", "127.0.1.1", "--token", "t", "--agent-state", "/a.json");
    assertThat(state.exitCode()).isEqualTo(2);
    assertThat(state.err()).contains("--agent-state needs --capture transparent");
    assertThat(run("--node", "n", "--address", "a", "--token", "t", "--ebpf-pins", "/p").err())
        .contains("--ebpf-pins needs --capture transparent");
    Run sampling = run("--node", "n", "--address", "a", "--token", "t", "--tracing-sampling", "5");
    assertThat(sampling.exitCode()).isEqualTo(2);
    Run timeout = run("--node", "n", "--address", "a", "--token", "t", "--first-byte-timeout", "10");
    assertThat(timeout.exitCode()).isEqualTo(2);
    assertThat(timeout.err()).contains("--first-byte-timeout '10' (expected: a duration above zero, e.g. 500ms");
    Run kib = run("--node", "n", "--address", "a", "--token", "t", "--max-response-headers-kb", "0");
    assertThat(kib.exitCode()).isEqualTo(2);
    assertThat(kib.err()).contains("--max-response-headers-kb '0' (expected: a whole number from 1 to 1024)");
    assertThat(sampling.err()).contains("--tracing-sampling '5' (expected: a ratio from 0 to 1, e.g. 0.01)");
  }

  @Test
  void helpWorksOnTheProxyAndTheCommandsItLeadsTo() {
    Run help = run("--help");
    assertThat(help.exitCode()).isZero();
    assertThat(help.out()).contains("Usage: trellis node-proxy").contains("--control-plane-ca").contains("--zipkin");
    assertThat(run("node-proxy", "-h").out()).contains("Usage: trellis node-proxy");
    assertThat(run("agent", "--help").out()).contains("Usage: trellis node-agent");
    assertThat(run("node-agent", "--help").out()).contains("Usage: trellis node-agent");
    Run standalone = run("standalone", "--help");
    assertThat(standalone.exitCode()).isZero();
    assertThat(standalone.out()).contains("Usage: trellis node-proxy standalone").contains("--peer-id");
  }
}
