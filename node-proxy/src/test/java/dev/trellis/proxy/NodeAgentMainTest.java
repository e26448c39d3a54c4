package dev.trellis.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.proxy.cni.CniInstaller;
import dev.trellis.proxy.redirect.Redirection;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The node agent's command line, as the DaemonSet, `trellis up --netns` and docs/node-agent.md pass it. */
class NodeAgentMainTest {

  static NodeAgentOptions parse(Map<String, String> env, String... args) {
    NodeAgentMain command = new NodeAgentMain();
    new CommandLine(command).parseArgs(args);
    return command.options(env);
  }

  /** What {@link NodeAgentMain#run} printed and returned. */
  record Run(int exitCode, String out, String err) {}

  static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = NodeAgentMain.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
    return new Run(code, out.toString(), err.toString());
  }

  record Row(String args, Function<NodeAgentOptions, Object> field, Object expected) {}

  @Test
  void everyFlagLandsInTheOptions() {
    String local = "--pods /run/pods.json ";
    List<Row> rows = List.of(
        new Row("--pods /run/pods.json", NodeAgentOptions::pods, new NodeAgentOptions.PodSource.File(Path.of("/run/pods.json"))),
        new Row("--kubernetes --node node-1", NodeAgentOptions::pods, new NodeAgentOptions.PodSource.Kubernetes("node-1")),
        new Row(local, NodeAgentOptions::socket, Path.of("/var/run/trellis/cni.sock")),
        new Row(local + "--socket /tmp/a.sock", NodeAgentOptions::socket, Path.of("/tmp/a.sock")),
        new Row(local, o -> o.redirection().mode(), Redirection.Mode.AUTO),
        new Row(local + "--redirect ebpf", o -> o.redirection().mode(), Redirection.Mode.EBPF),
        new Row(local + "--redirect nftables", o -> o.redirection().mode(), Redirection.Mode.NFTABLES),
        new Row(local, o -> o.redirection().proxyAddress(), null),
        new Row(local + "--proxy-address 10.0.0.5,fd00::5", o -> o.redirection().proxyAddress(), "10.0.0.5,fd00::5"),
        new Row(local, o -> o.redirection().pins(), Path.of("/sys/fs/bpf/trellis")),
        new Row(local + "--ebpf-pins /sys/fs/bpf/x", o -> o.redirection().pins(), Path.of("/sys/fs/bpf/x")),
        new Row(local, NodeAgentOptions::stateFile, Path.of("/var/run/trellis/agent-state.json")),
        new Row(local + "--state-file /tmp/s.json", NodeAgentOptions::stateFile, Path.of("/tmp/s.json")),
        new Row(local, NodeAgentOptions::cni, Optional.empty()),
        new Row(local + "--cni-bin-dir /b --cni-conf-dir /c --cni-plugin-dir /p", NodeAgentOptions::cni,
            Optional.of(new CniInstaller.Dirs(Path.of("/b"), Path.of("/c"), Path.of("/p")))),
        new Row(local + "--redirect=ebpf", o -> o.redirection().mode(), Redirection.Mode.EBPF));
    for (Row row : rows) {
      assertThat(row.field().apply(parse(Map.of(), row.args().strip().split(" ")))).as(row.args())
          .isEqualTo(row.expected());
    }
  }

  @Test
  void theDaemonSetsCommandLineParsesWithItsOwnPod() {
    NodeAgentOptions o = parse(Map.of("POD_NAMESPACE", "trellis-system", "POD_NAME", "trellis-node-proxy-x"),
        ("--kubernetes --node node-1 --socket /var/run/trellis/cni.sock --redirect auto --proxy-address 10.0.0.5"
            + " --state-file /var/run/trellis/agent-state.json --ebpf-pins /sys/fs/bpf/trellis"
            + " --cni-bin-dir /host/opt/cni/bin --cni-conf-dir /host/etc/cni/net.d --cni-plugin-dir /opt/trellis/cni")
            .split(" "));
    assertThat(o).isEqualTo(new NodeAgentOptions(new NodeAgentOptions.PodSource.Kubernetes("node-1"),
        Path.of("/var/run/trellis/cni.sock"), new Redirection.Settings(Redirection.Mode.AUTO, "10.0.0.5",
            Path.of("/sys/fs/bpf/trellis")), Path.of("/var/run/trellis/agent-state.json"),
        Optional.of(new CniInstaller.Dirs(Path.of("/host/opt/cni/bin"), Path.of("/host/etc/cni/net.d"),
            Path.of("/opt/trellis/cni"))),
        Optional.of(new NodeAgentOptions.OwnPod("trellis-system", "trellis-node-proxy-x"))));
    assertThat(parse(Map.of("POD_NAMESPACE", "x"), "--pods", "p.json").self()).isEmpty();
  }

  @Test
  void aMistypedFlagIsRefusedNamingIt() {
    Run r = run("--pods", "p.json", "--contol-plane", "x");
    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err()).contains("'--contol-plane'").contains("Usage: trellis node-agent");
    assertThat(run("uninstall", "--pods", "p.json").err()).contains("'--pods'");
    assertThat(run("--redirect", "bpf", "--pods", "p.json").err())
        .contains("--redirect").contains("'bpf' (expected: auto, ebpf or nftables)");
  }

  @Test
  void flagsThatDoNotGoTogetherAreRefusedWithCode2() {
    Run none = run();
    assertThat(none.exitCode()).isEqualTo(2);
    assertThat(none.err()).contains("give --kubernetes --node NAME (in a cluster) or --pods FILE");
    assertThat(run("--kubernetes").err()).contains("--kubernetes needs --node NAME");
    assertThat(run("--kubernetes", "--node", "n", "--pods", "p.json").err()).contains("exclude each other");
    Run cni = run("--pods", "p.json", "--cni-bin-dir", "/b", "--cni-plugin-dir", "/p");
    assertThat(cni.exitCode()).isEqualTo(2);
    assertThat(cni.err()).contains("go together: missing --cni-conf-dir");
    assertThat(run("uninstall", "--cni-bin-dir", "/b").err()).contains("missing --cni-conf-dir, --cni-plugin-dir");
  }

  @Test
  void helpWorksOnTheAgentAndItsUninstallAlsoAfterTheImagesSubcommandWord() {
    Run help = run("--help");
    assertThat(help.exitCode()).isZero();
    assertThat(help.out()).contains("Usage: trellis node-agent").contains("--cni-plugin-dir").contains("uninstall");
    Run word = run("node-agent", "-h");
    assertThat(word.exitCode()).isZero();
    assertThat(word.out()).contains("Usage: trellis node-agent");
    Run uninstall = run("uninstall", "--help");
    assertThat(uninstall.exitCode()).isZero();
    assertThat(uninstall.out()).contains("uninstall").contains("--ebpf-pins").contains("--cni-bin-dir");
  }
}
