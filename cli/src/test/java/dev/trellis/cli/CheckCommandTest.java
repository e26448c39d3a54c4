package dev.trellis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckCommandTest {

  @TempDir
  Path dir;

  @Test
  void aValidMeshFileExitsZeroWithASummary() throws Exception {
    Path file = dir.resolve("mesh.yaml");
    Files.writeString(file, """
        nodes:
          - {name: node-1, address: 127.0.1.1, token: node-1-token-0123456789}
        workloads:
          - {name: web-0, namespace: demo, node: node-1, address: 127.0.1.10, labels: {app: web}}
        services:
          - {name: web, namespace: demo, selector: {app: web}, ports: [{name: http, port: 80}]}
        """);

    CliRun r = CliRun.run("check", file.toString());

    assertThat(r.exit()).as(r.out() + r.err()).isZero();
    assertThat(r.out()).isEqualTo("ok: 1 node, 1 workload, 1 service, 0 routes, 0 policies, 0 authorizations\n");
  }

  @Test
  void anInvalidMeshFilePrintsEveryErrorOnALineAndExitsOne() throws Exception {
    Path file = dir.resolve("mesh.yaml");
    Files.writeString(file, """
        nodes:
          - {name: node-1, address: 127.0.1.1, token: short}
        workloads:
          - {name: web-0, namespace: demo, node: node-2, address: 127.0.1.10}
        """);

    CliRun r = CliRun.run("check", file.toString());

    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.out().lines().toList()).containsExactly(
        file + ":2:47: nodes[0].token: token has 5 characters (expected: at least 16; generate one with "
            + "'openssl rand -hex 16')",
        file + ":4:42: workloads[0].node: no node named 'node-2' (declared nodes: [node-1])",
        file + ": 2 errors");
  }

  @Test
  void warningsDoNotFailTheCheck() throws Exception {
    Path file = dir.resolve("mesh.yaml");
    Files.writeString(file, """
        nodes:
          - {name: node-1, address: 10.1.2.3, token: node-1-token-0123456789}
        """);

    CliRun r = CliRun.run("check", file.toString());

    assertThat(r.exit()).isZero();
    assertThat(r.out()).contains(file + ":2:29: warning: nodes[0].address: node 'node-1' has address 10.1.2.3")
        .contains("ok: 1 node, 0 workloads, 0 services, 0 routes, 0 policies, 0 authorizations, 1 warning");
  }

  @Test
  void aMissingFileIsAnErrorNamingIt() {
    CliRun r = CliRun.run("check", dir.resolve("nope.yaml").toString());

    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.out()).contains(dir.resolve("nope.yaml") + ": cannot be read");
  }

  @Test
  void hostCheckPrintsEveryCheckAndAVerdictAndExitsOneOnlyWhenCaptureCannotWork() {
    CliRun r = CliRun.run("check", "--host", "--cni-conf-dir", dir.resolve("net.d").toString(), "--cni-bin-dir",
        dir.resolve("bin").toString());

    assertThat(r.out()).contains("warning  cni config dir     " + dir.resolve("net.d") + " does not exist (needed on a "
        + "Kubernetes node only", "a Kubernetes node also needs: cni config dir, cni bin dir");
    String verdict = r.out().lines().reduce((x, y) -> y).orElseThrow();
    assertThat(verdict).startsWith("capture: ");
    assertThat(r.exit()).as("missing CNI folders alone do not fail: " + verdict)
        .isEqualTo(verdict.startsWith("capture: NOT ready") ? 1 : 0);
    for (String check : dev.trellis.cli.check.HostCheck.CHECKS) {
      assertThat(r.out()).contains(" " + check + " ");
    }
  }

  @Test
  void checkWithoutAFileOrHostIsAUsageError() {
    CliRun r = CliRun.run("check");

    assertThat(r.exit()).isEqualTo(2);
    assertThat(r.err()).contains("give a mesh file to check, --host, --cluster, or several");
  }
}
