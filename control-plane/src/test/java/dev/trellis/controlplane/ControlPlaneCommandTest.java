package dev.trellis.controlplane;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.ca.server.BearerAuthInterceptor.Anonymous;
import dev.trellis.controlplane.server.ControlPlaneOptions;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The control plane's command line: its entry point, and the access flags over each mode's defaults. */
class ControlPlaneCommandTest {

  static ControlPlaneOptions parse(ControlPlaneOptions defaults, String... args) {
    ControlPlaneCommand command = new ControlPlaneCommand();
    new CommandLine(command).parseArgs(args);
    return command.withAccessOptions(defaults);
  }

  static final ControlPlaneOptions LOCAL = ControlPlaneOptions.local(Path.of("mesh.yaml"), Path.of(".trellis"));
  static final ControlPlaneOptions CLUSTER = ControlPlaneOptions.kubernetes(ControlPlaneOptions.Cluster.defaults(
      "trellis-system", "cp-0", Set.of("trellis-system/trellis-node-proxy")));

  @Test
  void anonymousXdsFollowsTheModeUnlessAFlagSaysOtherwise() {
    assertThat(parse(LOCAL).anonymousXds()).isEqualTo(Anonymous.ALLOW);
    assertThat(parse(LOCAL, "--no-anonymous-xds").anonymousXds()).isEqualTo(Anonymous.REJECT);
    assertThat(parse(CLUSTER, "--kubernetes").anonymousXds()).isEqualTo(Anonymous.REJECT);
    assertThat(parse(CLUSTER, "--kubernetes", "--anonymous-xds").anonymousXds()).isEqualTo(Anonymous.ALLOW);
  }

  @Test
  void theImageEntryPointTakesTheCommandLineTheChartPassesAndAnswersHelp() {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int exit = ControlPlaneMain.run(new PrintWriter(out, true), new PrintWriter(err, true), "control-plane", "--help");
    assertThat(exit).as(err.toString()).isZero();
    assertThat(out.toString()).startsWith("Usage: trellis-control-plane control-plane ").contains("--kubernetes",
        "--trusted-node-proxies", "--egress-allow-cidrs", "-h, --help");
  }

  @Test
  void aMistypedFlagIsRefusedWithItsName() {
    StringWriter err = new StringWriter();
    int exit = ControlPlaneMain.run(new PrintWriter(new StringWriter(), true), new PrintWriter(err, true),
        "control-plane", "--kubernets");
    assertThat(exit).isEqualTo(2);
    assertThat(err.toString()).contains("Unknown option: '--kubernets'");
  }

  @Test
  void theAdminTokenFileIsPassedOn() {
    assertThat(parse(CLUSTER).adminTokenFile()).isNull();
    assertThat(parse(CLUSTER, "--admin-token-file", "/etc/trellis/admin-token").adminTokenFile())
        .isEqualTo(Path.of("/etc/trellis/admin-token"));
  }
}
