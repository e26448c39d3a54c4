package dev.trellis.cni;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.google.gson.JsonElement;
import com.google.gson.JsonParser;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Fuzzes what a container runtime hands the CNI plugin: the {@code CNI_*} environment and the network configuration
 * on stdin. {@link CniRequest#parse} returns a request that satisfies the spec's requirements for its command or
 * throws {@link CniError}, nothing else; the whole plugin ({@link CniPlugin#run}, with a node agent that answers)
 * always ends in an exit code of 0 or 1 and JSON on stdout, never in an exception.
 *
 * <p>Input format (so corpus files stay readable): lines {@code CNI_COMMAND}, {@code CNI_CONTAINERID},
 * {@code CNI_NETNS}, {@code CNI_IFNAME}, {@code CNI_ARGS} (an empty or missing line leaves the variable unset), then
 * the rest is stdin.
 */
class CniRequestFuzzTest {

  private static final List<String> VARIABLES = List.of("CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME",
      "CNI_ARGS");

  @FuzzTest
  void runtimeInput(byte[] input) {
    String text = new String(input, StandardCharsets.UTF_8);
    Map<String, String> env = new HashMap<>();
    int at = 0;
    for (String variable : VARIABLES) {
      int lf = text.indexOf('\n', at);
      String value = text.substring(at, lf < 0 ? text.length() : lf);
      if (!value.isEmpty()) {
        env.put(variable, value);
      }
      at = lf < 0 ? text.length() : lf + 1;
    }
    String stdin = text.substring(at);

    try {
      CniRequest request = CniRequest.parse(env, stdin);
      switch (request.command()) {
        case ADD, CHECK -> {
          assertThat(request.containerId()).isNotBlank();
          assertThat(request.netns()).isNotBlank();
          assertThat(request.ifname()).isNotBlank();
        }
        case DEL -> assertThat(request.containerId()).isNotBlank();
        default -> { }
      }
      if (request.command() != CniRequest.Command.VERSION) {
        assertThat(CniRequest.SUPPORTED_VERSIONS).contains(request.cniVersion());
      }
    } catch (CniError expected) {
      assertThat(expected.getMessage()).isNotBlank();
    }

    CniPlugin.Outcome outcome = new CniPlugin(config -> new CniPluginTest.FakeAgent()).run(env, stdin);
    assertThat(outcome.exitCode()).isIn(0, 1);
    if (outcome.exitCode() == 1 || !outcome.stdout().isEmpty()) {
      JsonElement json = JsonParser.parseString(outcome.stdout());
      assertThat(json.isJsonObject()).as("stdout is a JSON object: %s", outcome.stdout()).isTrue();
      if (outcome.exitCode() == 1) {
        assertThat(json.getAsJsonObject().has("code")).isTrue();
        assertThat(json.getAsJsonObject().has("msg")).isTrue();
      }
    }
  }
}
