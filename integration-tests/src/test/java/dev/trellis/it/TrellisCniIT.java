package dev.trellis.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.trellis.bench.CniAddLatency;
import dev.trellis.proxy.cni.NodeAgentServer;
import dev.trellis.proxy.redirect.CaptureAgent;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged {@code trellis-cni} executable (scripts/package-cni), run the way a container runtime
 * runs a CNI plugin: a fresh process with only the CNI_* environment and the configuration on stdin,
 * against a node agent listening on its Unix socket.
 */
class TrellisCniIT {

  @TempDir
  Path dir;

  record Run(int exitCode, String stdout) {}

  static Run plugin(Path executable, Map<String, String> env, String stdin) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(executable.toString());
    pb.environment().clear();
    pb.environment().putAll(env);
    pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
    pb.redirectError(ProcessBuilder.Redirect.DISCARD);
    Process p = pb.start();
    p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    return new Run(p.exitValue(), out);
  }

  static Map<String, String> add(String pod) {
    return Map.of("CNI_COMMAND", "ADD", "CNI_CONTAINERID", "ctr-" + pod, "CNI_NETNS", "/var/run/netns/" + pod,
        "CNI_IFNAME", "eth0", "CNI_PATH", "/opt/cni/bin",
        "CNI_ARGS", "K8S_POD_NAMESPACE=demo;K8S_POD_NAME=" + pod + ";K8S_POD_UID=uid-" + pod);
  }

  @Test
  void thePackagedPluginCapturesAPodThroughTheAgentAndSaysWhenItCannot() throws Exception {
    Path root = Path.of("..").toAbsolutePath().normalize();
    Process pack = new ProcessBuilder(root.resolve("scripts/package-cni").toString(), dir.resolve("bin").toString())
        .redirectErrorStream(true).start();
    String packOut = new String(pack.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(pack.waitFor(300, TimeUnit.SECONDS)).isTrue();
    assertThat(pack.exitValue()).as(packOut).isZero();
    Path plugin = dir.resolve("bin/trellis-cni");
    assertThat(Files.isExecutable(plugin)).isTrue();
    assertThat(dir.resolve("bin/trellis-cni.d/trellis-cni.aot")).exists();

    List<String> installed = new ArrayList<>();
    CaptureAgent agent = CniAddLatency.agentEnrollingEveryPod(installed);
    agent.ready();
    String prev = "{\"cniVersion\": \"1.0.0\", \"interfaces\": [{\"name\": \"eth0\", \"sandbox\": \"/var/run/netns/web-0\"}],"
        + " \"ips\": [{\"address\": \"10.1.0.7/24\", \"interface\": 0}]}";
    try (NodeAgentServer server = NodeAgentServer.start(dir.resolve("run/cni.sock"), agent)) {
      String config = "{\"cniVersion\": \"1.0.0\", \"name\": \"k8s\", \"type\": \"trellis-cni\", \"agentSocket\": \""
          + server.socket() + "\", \"prevResult\": " + prev + "}";
      Run ok = plugin(plugin, add("web-0"), config);
      assertThat(ok.exitCode()).as(ok.stdout()).isZero();
      assertThat(JsonParser.parseString(ok.stdout())).isEqualTo(JsonParser.parseString(prev));
      assertThat(installed).containsExactly("web-0 [10.1.0.7]");

      Run version = plugin(plugin, Map.of("CNI_COMMAND", "VERSION"), "{\"cniVersion\": \"1.0.0\"}");
      assertThat(version.stdout()).contains("\"supportedVersions\":[\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\",\"1.1.0\"]");
    }
    String noAgent = "{\"cniVersion\": \"1.0.0\", \"name\": \"k8s\", \"type\": \"trellis-cni\", \"agentSocket\": \""
        + dir.resolve("run/cni.sock") + "\", \"prevResult\": " + prev + "}";
    Run refused = plugin(plugin, add("web-1"), noAgent);
    assertThat(refused.exitCode()).isEqualTo(1);
    JsonObject error = JsonParser.parseString(refused.stdout()).getAsJsonObject();
    assertThat(error.get("code").getAsInt()).isEqualTo(11);
    assertThat(error.get("msg").getAsString()).contains("did not answer; the pod must not start uncaptured, retry");
  }
}
