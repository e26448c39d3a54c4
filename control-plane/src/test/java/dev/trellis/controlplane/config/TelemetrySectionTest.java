package dev.trellis.controlplane.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.controlplane.model.Mesh;
import dev.trellis.controlplane.model.MeshTelemetry;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The mesh file's {@code telemetry} section: defaults, every field, the flags it gives node proxies, and errors. */
class TelemetrySectionTest {

  private static final String NODES = """
      nodes:
        - {name: node-1, address: 127.0.1.1, token: node-1-token-0123456789}
      """;

  @Test
  void withoutASectionNodeProxiesKeepTheirDefaults() throws Exception {
    Mesh mesh = MeshFile.parse(NODES, "mesh.yaml", null);
    assertThat(mesh.telemetry()).isEqualTo(MeshTelemetry.DEFAULTS);
    assertThat(mesh.telemetry().nodeProxyFlags("node-1"))
        .containsExactly("--telemetry", "on", "--tracing-sampling", "0.01", "--max-queued-spans", "2048");
  }

  @Test
  void everyFieldBecomesANodeProxyFlagAndEachNodeGetsItsOwnAccessLog() throws Exception {
    Mesh mesh = MeshFile.parse(NODES + """
        telemetry:
          tracing:
            sampling: 0.25
            otlpGrpc: http://127.0.0.1:4317
            otlpHttp: http://127.0.0.1:4318
            zipkin: http://127.0.0.1:9411/api/v2/spans
            maxQueuedSpans: 100
          accessLog: {sink: 'logs/{node}-access.log', sampling: 0.5}
        """, "mesh.yaml", Path.of("/srv/mesh"));
    assertThat(mesh.telemetry().nodeProxyFlags("node-1")).containsExactly("--telemetry", "on",
        "--tracing-sampling", "0.25", "--max-queued-spans", "100", "--otlp-grpc", "http://127.0.0.1:4317",
        "--otlp-http", "http://127.0.0.1:4318", "--zipkin", "http://127.0.0.1:9411/api/v2/spans",
        "--access-log", "/srv/mesh/logs/node-1-access.log", "--access-log-sampling", "0.5");
  }

  @Test
  void disabledTelemetryIsOneFlag() throws Exception {
    Mesh mesh = MeshFile.parse(NODES + "telemetry: {enabled: false, tracing: {sampling: 1}}\n", "mesh.yaml", null);
    assertThat(mesh.telemetry().nodeProxyFlags("node-1")).containsExactly("--telemetry", "off");
  }

  @ParameterizedTest(name = "{1}")
  @CsvSource(delimiter = '|', textBlock = """
      telemetry: {tracing: {sampling: 2}}                  | telemetry.tracing.sampling: 2 is out of range
      telemetry: {tracing: {zipkin: 'zipkin:9411'}}         | telemetry.tracing.zipkin: 'zipkin:9411' is not an http(s) URL (e.g. http://zipkin:9411/api/v2/spans)
      telemetry: {tracing: {otlpGrpc: 'ftp://c:4317'}}      | telemetry.tracing.otlpGrpc: 'ftp://c:4317' is not an http(s) URL
      telemetry: {tracing: {maxQueuedSpans: 0}}             | telemetry.tracing.maxQueuedSpans: 0 is out of range
      telemetry: {accessLog: {sampling: 0.5}}               | telemetry.accessLog: missing 'sink'
      telemetry: {tracng: {}}                               | telemetry.tracng: unknown field 'tracng'; did you mean 'tracing'?
      """)
  void eachProblemNamesItsField(String yaml, String expected) {
    assertThatThrownBy(() -> MeshFile.parse(NODES + yaml, "mesh.yaml", null))
        .isInstanceOf(MeshFileException.class)
        .satisfies(e -> assertThat(((MeshFileException) e).problems()).anySatisfy(p -> assertThat(p).contains(expected)));
  }
}
