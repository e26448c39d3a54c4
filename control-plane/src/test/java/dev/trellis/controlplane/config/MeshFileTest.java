package dev.trellis.controlplane.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.controlplane.model.HttpRoute;
import dev.trellis.controlplane.model.Mesh;
import dev.trellis.controlplane.model.MeshHttp;
import dev.trellis.controlplane.model.MtlsMode;
import dev.trellis.controlplane.model.ObjectRef;
import dev.trellis.controlplane.model.ServicePort.AppProtocol;
import dev.trellis.controlplane.model.TrafficPolicy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class MeshFileTest {

  static final Path EXAMPLE = Path.of("..", "examples", "mesh.yaml");

  private static final String NODES = """
      nodes:
        - {name: node-1, address: 127.0.1.1, token: node-1-token-0123456789}
      """;

  @Test
  void theShippedExampleParses() throws Exception {
    Mesh mesh = MeshFile.load(EXAMPLE);
    assertThat(mesh.trustDomain().name()).isEqualTo("cluster.local");
    assertThat(mesh.defaultMtls()).isEqualTo(MtlsMode.PERMISSIVE);
    assertThat(mesh.nodes()).hasSize(2);
    assertThat(mesh.workloads()).hasSize(4);
    assertThat(mesh.service(new ObjectRef("demo", "greeter")).orElseThrow().ports().getFirst().protocol())
        .isEqualTo(AppProtocol.GRPC);
    HttpRoute route = mesh.routes().getFirst();
    assertThat(route.rules().getFirst().backends()).extracting(HttpRoute.Backend::weight).containsExactly(80, 20);
    assertThat(route.rules().getFirst().timeout()).isEqualTo(Duration.ofSeconds(5));
    assertThat(route.rules().getFirst().retry().backoffBase()).isEqualTo(Duration.ofMillis(25));
    assertThat(mesh.policies().getFirst().loadBalancer().algorithm()).isEqualTo(TrafficPolicy.Algorithm.LEAST_REQUEST);
    assertThat(mesh.fqdn(mesh.services().get(1))).isEqualTo("greeter.demo.svc.cluster.local");
  }

  @ParameterizedTest(name = "{1}")
  @CsvSource(delimiter = '|', textBlock = """
      trustDomain: Bad.Domain                                            | test.yaml:3:14: trustDomain: trust domain 'Bad.Domain'
      servces: []                                                        | test.yaml:3:1: servces: unknown field 'servces'; did you mean 'services'?
      services: [{name: a, namespace: demo, ports: [{port: 70000}]}]     | services[0].ports[0].port: 70000 is out of range (expected: 1..65535)
      services: [{name: a, namespace: demo, ports: [{port: x}]}]         | services[0].ports[0].port: 'x' is not a whole number
      services: [{name: A_b, namespace: demo, ports: [{port: 1}]}]       | services[0].name: 'A_b' is not a valid name
      services: [{name: a, namespace: demo, ports: []}]                  | services[0].ports: a service needs at least one port
      services: [{name: a, namespace: demo, vip: nope, ports: [{port: 1}]}] | services[0].vip: 'nope' is not an IP address
      workloads: [{name: w, namespace: demo, node: node-9, address: 10.0.0.1}] | workloads[0].node: no node named 'node-9'
      workloads: [{name: w, namespace: demo, node: node-1}]              | workloads[0]: missing required field 'address'
      mtls: {mode: sometimes}                                            | mtls.mode: 'sometimes' is not one of [strict, permissive, disable]
      routes: [{name: r, namespace: demo, service: nope, rules: [{backends: [{service: nope}]}]}] | routes[0].service: no service demo/nope
      egress: {allowCidrs: [169.254.169.254/33]}                         | egress.allowCidrs[0]: '169.254.169.254/33': prefix length must be 0 to 32
      egress: {allowCidrs: [metadata.internal]}                          | egress.allowCidrs[0]: 'metadata.internal' is not an address prefix
      egress: {allowCidrs: [169.254.169.254/16]}                         | egress.allowCidrs[0]: '169.254.169.254/16' has host bits set (did you mean 169.254.0.0/16?)
      egress: {allowCird: []}                                            | egress.allowCird: unknown field 'allowCird'; did you mean 'allowCidrs'?
      http: {escapedSlashes: keep-unchanged}                             | http.escapedSlashes: 'keep-unchanged' is not one of [reject-request, unescape-and-forward]
      http: {pathParameters: ignore}                                     | http.pathParameters: 'ignore' is not one of [reject, strip]
      http: {normalize: false}                                           | http.normalize: unknown field 'normalize'
      authorizations: [{name: a, namespace: demo, action: deny, rules: [{paths: [/%61dmin]}]}] | authorizations[0].rules[0].paths: path '/%61dmin' has %61, which the node proxy decodes before matching: write 'a'
      """)
  void eachProblemNamesFileLineColumnAndField(String yaml, String expected) {
    assertThatThrownBy(() -> MeshFile.parse(NODES + yaml, "test.yaml", null))
        .isInstanceOf(MeshFileException.class)
        .satisfies(e -> assertThat(((MeshFileException) e).problems()).anySatisfy(p -> assertThat(p).contains(expected)));
  }

  @Test
  void theEgressAllowListIsNormalizedAndAbsentMeansNone() throws Exception {
    Mesh mesh = MeshFile.parse(NODES + """
        egress:
          allowCidrs: [169.254.169.254, 169.254.169.254/32, "fd00:ec2:0::254", 10.0.0.0/8]
        """, "m.yaml", null);
    assertThat(mesh.egress().allowCidrs()).containsExactly("169.254.169.254/32", "fd00:ec2:0:0:0:0:0:254/128",
        "10.0.0.0/8");
    assertThat(MeshFile.parse(NODES, "m.yaml", null).egress().allowCidrs()).isEmpty();
  }

  @Test
  void theHttpSectionSetsPathNormalizationAndDefaultsToRefusingWhatIsAmbiguous() throws Exception {
    assertThat(MeshFile.parse(NODES, "m.yaml", null).http()).isEqualTo(MeshHttp.DEFAULTS);
    assertThat(MeshFile.parse(NODES + "http: {escapedSlashes: UNESCAPE_AND_FORWARD}", "m.yaml", null).http())
        .isEqualTo(new MeshHttp(MeshHttp.EscapedSlashes.UNESCAPE_AND_FORWARD, MeshHttp.PathParameters.REJECT));
    assertThat(MeshFile.parse(NODES + "http: {pathParameters: strip}", "m.yaml", null).http())
        .isEqualTo(new MeshHttp(MeshHttp.EscapedSlashes.REJECT_REQUEST, MeshHttp.PathParameters.STRIP));
  }

  @Test
  void deepNestingIsRefusedWithAnErrorInsteadOfOverflowingTheStack() {
    for (String yaml : new String[] {"services: " + "[".repeat(10_000) + "]".repeat(10_000),
        "services:\n  " + "- ".repeat(10_000) + "x", "services: " + "{a: ".repeat(10_000) + "1" + "}".repeat(10_000)}) {
      assertThatThrownBy(() -> MeshFile.parse(NODES + yaml, "test.yaml", null))
          .isInstanceOf(MeshFileException.class)
          .hasMessageMatching("test\\.yaml:[34]:[0-9]+: lists and mappings are nested more than 64 levels deep.*");
    }
    assertThat(MeshFile.MAX_NESTING).isGreaterThan(12); // the deepest real mesh file (routes' matches) stays under it
  }

  @Test
  void lineAndColumnPointAtTheOffendingValue() {
    String yaml = NODES + """
        services:
          - name: greeter
            namespace: demo
            ports:
              - port: 99999
        """;
    assertThatThrownBy(() -> MeshFile.parse(yaml, "mesh.yaml", null))
        .hasMessage("mesh.yaml:7:15: services[0].ports[0].port: 99999 is out of range (expected: 1..65535)");
  }

  @Test
  void theControlPlaneAcceptsRunFieldsWithoutReadingThem() throws Exception {
    String withRun = NODES + """
        workloads:
          - {name: w, namespace: demo, node: node-1, address: 127.0.1.10, run: {demo: http, anything: [1, 2]}}
        """;
    String without = NODES + """
        workloads:
          - {name: w, namespace: demo, node: node-1, address: 127.0.1.10}
        """;
    assertThat(MeshFile.parse(withRun, "m.yaml", null)).isEqualTo(MeshFile.parse(without, "m.yaml", null));
    assertThat(MeshFile.parse(withRun, "m.yaml", null, MeshFile.IGNORE_RUN).runs()).isEmpty();
  }

  @Test
  void aRunParserSeesEachRunFieldAndItsProblemsJoinTheFilesOthers() {
    String yaml = NODES + """
        workloads:
          - {name: w, namespace: demo, node: nowhere, address: 127.0.1.10, run: x}
          - {name: v, namespace: demo, node: node-1, address: 127.0.1.11, run: y}
        """;
    MeshFile.RunParser<String> strings = run -> {
      if (run.string().equals("x")) {
        run.problem("x is refused");
        return null;
      }
      return run.string();
    };
    assertThatThrownBy(() -> MeshFile.parse(yaml, "m.yaml", null, strings))
        .satisfies(e -> assertThat(((MeshFileException) e).problems()).containsExactly(
            "m.yaml:4:38: workloads[0].node: no node named 'nowhere' (declared nodes: [node-1])",
            "m.yaml:4:73: workloads[0].run: x is refused"));
  }

  @Test
  void aRunParserResultIsKeptPerWorkloadInFileOrder() throws Exception {
    String yaml = NODES + """
        workloads:
          - {name: w, namespace: demo, node: node-1, address: 127.0.1.10, run: first}
          - {name: u, namespace: demo, node: node-1, address: 127.0.1.12}
          - {name: v, namespace: demo, node: node-1, address: 127.0.1.11, run: second}
        """;
    assertThat(MeshFile.parse(yaml, "m.yaml", null, YamlValue::string).runs()).containsExactly(
        java.util.Map.entry(new ObjectRef("demo", "w"), "first"), java.util.Map.entry(new ObjectRef("demo", "v"), "second"));
  }

  @Test
  void allProblemsAreReportedAtOnce() {
    String yaml = NODES + """
        services:
          - {name: a, namespace: demo, ports: [{port: 0}]}
          - {name: b, namespace: demo, ports: [{port: 1, protocol: quic}]}
        workloads:
          - {name: w, namespace: demo, node: nowhere, address: 10.0.0.1}
        """;
    assertThatThrownBy(() -> MeshFile.parse(yaml, "m.yaml", null))
        .satisfies(e -> assertThat(((MeshFileException) e).problems()).hasSize(3)
            .anySatisfy(p -> assertThat(p).contains("ports[0].port: 0 is out of range"))
            .anySatisfy(p -> assertThat(p).contains("protocol: 'quic' is not one of [http, http2, grpc, tcp]"))
            .anySatisfy(p -> assertThat(p).contains("no node named 'nowhere'")));
  }

  @Test
  void crossReferencesAreChecked() {
    String yaml = NODES + """
        services:
          - {name: web, namespace: demo, ports: [{name: http, port: 80}, {name: db, port: 5432}]}
        routes:
          - name: r
            namespace: demo
            service: web
            port: 5432
            rules: [{backends: [{service: web, weight: 0}]}]
          - name: r2
            namespace: demo
            service: web
            rules: [{backends: [{service: web, port: 81}]}]
        """;
    assertThatThrownBy(() -> MeshFile.parse(yaml, "m.yaml", null))
        .satisfies(e -> assertThat(((MeshFileException) e).problems())
            .anySatisfy(p -> assertThat(p).contains("port 5432 of service demo/web is TCP"))
            .anySatisfy(p -> assertThat(p).contains("backend weights sum to 0"))
            .anySatisfy(p -> assertThat(p).contains("backend service demo/web has no port 81")));
  }

  @Test
  void duplicatesAreRefused() {
    String yaml = """
        nodes:
          - {name: n, address: 127.0.1.1, token: same-token-0123456789}
          - {name: m, address: 127.0.1.1, token: same-token-0123456789}
        workloads:
          - {name: w, namespace: d, node: n, address: 10.0.0.1}
          - {name: v, namespace: d, node: n, address: 10.0.0.1}
        """;
    assertThatThrownBy(() -> MeshFile.parse(yaml, "m.yaml", null))
        .satisfies(e -> assertThat(((MeshFileException) e).problems())
            .anySatisfy(p -> assertThat(p).contains("address 127.0.1.1 is used by another node"))
            .anySatisfy(p -> assertThat(p).contains("has the same token as node 'n'"))
            .anySatisfy(p -> assertThat(p).contains("address 10.0.0.1 is already used by workload d/w")));
  }

  @Test
  void shortTokensAndTokenFiles(@TempDir Path dir) throws Exception {
    assertThatThrownBy(() -> MeshFile.parse("nodes: [{name: n, address: 127.0.0.1, token: short}]", "m.yaml", null))
        .hasMessageContaining("token has 5 characters (expected: at least 16");
    Files.writeString(dir.resolve("n.token"), "from-a-file-0123456789\n");
    Mesh mesh = MeshFile.parse("nodes: [{name: n, address: 127.0.0.1, tokenFile: n.token}]", "m.yaml", dir);
    assertThat(mesh.nodes().getFirst().token()).isEqualTo("from-a-file-0123456789");
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', textBlock = """
      'a: ['                                     | m.yaml:1:5: not valid YAML: expected the node content, but found '<stream end>' (while parsing a flow node at 1:5)
      'nodes:\\n  - {name: a, address: [1, 2\\n' | m.yaml:3:1: not valid YAML: expected ',' or ']', but got <stream end> (while parsing a flow sequence at 2:24)
      'a: b: c'                                  | m.yaml:1:5: not valid YAML: mapping values are not allowed here
      'a: "open'                                 | m.yaml:1:9: not valid YAML: found unexpected end of stream (while scanning a quoted scalar at 1:4)
      'a:\\n\\t- b'                                | m.yaml:2:1: not valid YAML: found character '\\t(TAB)' that cannot start any token. (Do not use \\t(TAB) for indentation) (while scanning for the next token)
      'a: x\\1y'                                  | m.yaml:1:5: not valid YAML: the character U+0001 is not allowed in YAML
      """)
  void aYamlSyntaxErrorIsOneLineWithFileLineAndColumn(String yaml, String expected) {
    String text = yaml.translateEscapes();
    assertThatThrownBy(() -> MeshFile.parse(text, "m.yaml", null)).isInstanceOf(MeshFileException.class)
        .hasMessage(expected)
        .satisfies(e -> assertThat(e.getMessage()).matches("m\\.yaml:\\d+:\\d+: [^\\n^]*"));
  }

  @Test
  void aMissingFileSaysItDoesNotExistWithoutAJavaExceptionName(@TempDir Path dir) {
    Path missing = dir.resolve("nope.yaml");
    assertThatThrownBy(() -> MeshFile.load(missing)).isInstanceOf(MeshFileException.class)
        .hasMessage(missing + ": cannot be read: it does not exist (check the path)");
    assertThatThrownBy(() -> MeshFile.load(dir)).hasMessageStartingWith(dir + ": cannot be read: ")
        .hasMessageNotContaining("Exception");
  }

  @Test
  void notYamlAndEmptyFiles() {
    assertThatThrownBy(() -> MeshFile.parse("a: [", "m.yaml", null)).hasMessageStartingWith("m.yaml:1:5: not valid YAML:");
    assertThatThrownBy(() -> MeshFile.parse("", "m.yaml", null)).hasMessage("m.yaml: the file is empty");
    assertThatThrownBy(() -> MeshFile.parse("just text", "m.yaml", null))
        .hasMessageContaining("expected a mapping (key: value lines), found 'just text'");
  }

  @Test
  void portProtocolIsInferredFromItsNameAsIstioDoes() {
    assertThat(AppProtocol.fromPortName("grpc-api")).isEqualTo(AppProtocol.GRPC);
    assertThat(AppProtocol.fromPortName("http")).isEqualTo(AppProtocol.HTTP);
    assertThat(AppProtocol.fromPortName("http2")).isEqualTo(AppProtocol.HTTP2);
    assertThat(AppProtocol.fromPortName("https")).isEqualTo(AppProtocol.TCP);
    assertThat(AppProtocol.fromPortName(null)).isEqualTo(AppProtocol.TCP);
  }
}
