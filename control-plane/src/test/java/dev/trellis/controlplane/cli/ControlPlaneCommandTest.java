package dev.trellis.controlplane.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.ca.server.BearerAuthInterceptor.Anonymous;
import dev.trellis.controlplane.server.ControlPlaneOptions;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The access flags of {@code trellis control-plane} over each mode's defaults. */
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
  void theAdminTokenFileIsPassedOn() {
    assertThat(parse(CLUSTER).adminTokenFile()).isNull();
    assertThat(parse(CLUSTER, "--admin-token-file", "/etc/trellis/admin-token").adminTokenFile())
        .isEqualTo(Path.of("/etc/trellis/admin-token"));
  }
}
