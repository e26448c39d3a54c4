package dev.trellis.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.proxy.ControlPlaneWarnings.Warning;
import dev.trellis.proxy.testing.LogCapture;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ControlPlaneWarningsTest {

  @ParameterizedTest(name = "{0}, token {1}, ca {2} -> {3}")
  @CsvSource(delimiter = '|', textBlock = """
      127.0.0.1:15010                             | flag | none | -
      127.0.0.1:15010                             | file | none | -
      localhost:15010                             | flag | none | -
      [::1]:15010                                 | flag | none | -
      127.0.61.1:15010                            | flag | none | -
      dns:///localhost:15012                      | flag | none | -
      10.61.0.254:15010                           | file | none | PLAINTEXT_TOKEN
      10.61.0.254:15010                           | flag | none | TOKEN_ON_COMMAND_LINE PLAINTEXT_TOKEN
      10.61.0.254:15012                           | flag | ca   | TOKEN_ON_COMMAND_LINE
      10.61.0.254:15012                           | file | ca   | -
      [fd00::1]:15010                             | file | none | PLAINTEXT_TOKEN
      trellis-control-plane.trellis.svc:15012     | file | ca   | -
      trellis-control-plane.trellis.svc:15010     | file | none | PLAINTEXT_TOKEN
      dns:///trellis-control-plane.trellis.svc:15012 | flag | ca | TOKEN_ON_COMMAND_LINE
      """)
  void warnsOnlyWhenTheControlPlaneIsNotOnLoopback(String controlPlane, String token, String ca, String expected) {
    NodeProxyOptions o = NodeProxyOptions.local("node-1", "10.61.0.1", controlPlane, "secret");
    if (token.equals("file")) {
      o = o.withTokenFile(Path.of("/var/run/secrets/trellis/token"));
    }
    if (ca.equals("ca")) {
      o = o.withControlPlaneCa(Path.of("/var/run/trellis/ca/root-cert.pem"));
    }
    List<Warning> want = expected.equals("-") ? List.of()
        : Arrays.stream(expected.split(" ")).map(Warning::valueOf).toList();
    assertThat(ControlPlaneWarnings.decide(o)).isEqualTo(want);
  }

  @ParameterizedTest
  @CsvSource({"127.0.0.1:15010,true", "127.255.0.9:1,true", "localhost:15010,true", "LOCALHOST:1,true",
      "[::1]:15010,true", "[0:0:0:0:0:0:0:1]:1,true", "dns:///127.0.0.1:15010,true", "10.0.0.1:15010,false",
      "[fd00::1]:15010,false", "example.com:15012,false", "localhost.example.com:1,false", "0.0.0.0:15010,false"})
  void loopbackIsDecidedFromTheTargetWithoutResolvingIt(String target, boolean loopback) {
    assertThat(ControlPlaneWarnings.isLoopback(target)).isEqualTo(loopback);
  }

  @org.junit.jupiter.api.Test
  void theWarningsAreLoggedAtWarnNamingTheFix() {
    NodeProxyOptions o = NodeProxyOptions.local("node-1", "10.61.0.1", "10.61.0.254:15010", "secret");
    List<String> lines;
    try (LogCapture logs = LogCapture.start()) {
      ControlPlaneWarnings.emit(o);
      ControlPlaneWarnings.emit(NodeProxyOptions.local("node-2", "127.0.2.1", "127.0.0.1:15010", "secret"));
      lines = logs.lines();
    }
    assertThat(lines).hasSize(2).allMatch(l -> l.contains(" WARN ") && l.contains("node-1"));
    assertThat(lines.get(0)).contains("--token", "ps", "--token-file").doesNotContain("secret");
    assertThat(lines.get(1)).contains("INSECURE", "PLAINTEXT", "10.61.0.254:15010", "--control-plane-ca");
  }
}
