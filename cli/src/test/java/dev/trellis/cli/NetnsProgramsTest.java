package dev.trellis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** What {@code up --netns} says about the host programs it needs, before it creates anything. */
class NetnsProgramsTest {

  static Stream<Arguments> missing() {
    return Stream.of(
        Arguments.of("everything installed", Set.of("ip", "nsenter", "nft", "sysctl", "bash"), List.of()),
        Arguments.of("no nft (the fresh-machine case)", Set.of("ip", "nsenter", "sysctl", "bash"), List.of(
            "'nft' is not installed (it loads the node agents' capture rules (inbound TPROXY always, outbound without eBPF)): "
                + "Debian/Ubuntu package nftables",
            "install it with: apt-get install -y nftables")),
        Arguments.of("no ip and no sysctl", Set.of("nsenter", "nft", "bash"), List.of(
            "'ip' is not installed (it creates the namespaces, links, addresses and routes): Debian/Ubuntu package "
                + "iproute2",
            "'sysctl' is not installed (it turns on forwarding in each node's namespace): Debian/Ubuntu package procps",
            "install them with: apt-get install -y iproute2 procps")),
        Arguments.of("nothing", Set.of(), List.of(
            "'ip' is not installed (it creates the namespaces, links, addresses and routes): Debian/Ubuntu package "
                + "iproute2",
            "'nsenter' is not installed (it starts each node's and pod's processes in its namespace): Debian/Ubuntu "
                + "package util-linux",
            "'nft' is not installed (it loads the node agents' capture rules (inbound TPROXY always, outbound without eBPF)): "
                + "Debian/Ubuntu package nftables",
            "'sysctl' is not installed (it turns on forwarding in each node's namespace): Debian/Ubuntu package procps",
            "'bash' is not installed (it probes readiness inside the namespaces): Debian/Ubuntu package bash",
            "install them with: apt-get install -y iproute2 util-linux nftables procps bash")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource
  void missing(String name, Set<String> installed, List<String> expected) {
    assertThat(NetnsPrograms.missing(installed::contains)).containsExactlyElementsOf(expected);
  }

  @Test
  void upsHelpNamesEveryProgramAndItsPackage() {
    CliRun help = CliRun.run("up", "--help");
    String text = help.out().replaceAll("\\s+", " ");
    for (NetnsPrograms.Program p : NetnsPrograms.NEEDED) {
      assertThat(text).contains(p.name() + " (" + p.debianPackage() + ")");
    }
  }

  @Test
  void programsOnTheSearchPathAreFoundAndOthersAreNot() {
    assertThat(NetnsPrograms.onPath("sh")).isTrue();
    assertThat(NetnsPrograms.onPath("trellis-no-such-program")).isFalse();
  }
}
