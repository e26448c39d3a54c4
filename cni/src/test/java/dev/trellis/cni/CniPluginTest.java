package dev.trellis.cni;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CniPluginTest {

  /** An agent that records what it was asked and answers as told. */
  static final class FakeAgent implements AgentChannel {
    final List<String> calls = new ArrayList<>();
    Attachment last;
    List<String> valid;
    IOException unreachable;
    RuntimeException failure;
    State state = State.CAPTURED;

    private Answer answer(String op, Attachment a) throws IOException {
      calls.add(op);
      last = a;
      if (unreachable != null) {
        throw unreachable;
      }
      if (failure != null) {
        throw failure;
      }
      return new Answer(state, "because");
    }

    @Override
    public Answer add(Attachment a) throws IOException {
      return answer("add", a);
    }

    @Override
    public void delete(Attachment a) throws IOException {
      answer("del", a);
    }

    @Override
    public Answer check(Attachment a) throws IOException {
      return answer("check", a);
    }

    @Override
    public Answer status() throws IOException {
      return answer("status", null);
    }

    @Override
    public void collect(List<String> validContainerIds) throws IOException {
      valid = validContainerIds;
      answer("gc", null);
    }
  }

  static final String PREV = """
      {"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "sandbox": "/var/run/netns/p1"}],
       "ips": [{"address": "10.1.0.7/24", "interface": 0}, {"address": "fd00::7/64", "interface": 0}]}""";

  final FakeAgent agent = new FakeAgent();
  final CniPlugin plugin = new CniPlugin(c -> agent);

  static Map<String, String> env(String command) {
    Map<String, String> env = new HashMap<>();
    env.put("CNI_COMMAND", command);
    env.put("CNI_CONTAINERID", "c0ffee");
    env.put("CNI_NETNS", "/var/run/netns/p1");
    env.put("CNI_IFNAME", "eth0");
    env.put("CNI_PATH", "/opt/cni/bin");
    env.put("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=demo;K8S_POD_NAME=web-0;K8S_POD_UID=u-1");
    return env;
  }

  static String config(String version, String extra) {
    return "{\"cniVersion\": \"" + version + "\", \"name\": \"k8s-pod-network\", \"type\": \"trellis-cni\"" + extra + "}";
  }

  static JsonObject json(String s) {
    return JsonParser.parseString(s).getAsJsonObject();
  }

  static void assertError(CniPlugin.Outcome o, int code, String message) {
    assertThat(o.exitCode()).isEqualTo(1);
    JsonObject e = json(o.stdout());
    assertThat(e.get("code").getAsInt()).isEqualTo(code);
    assertThat(e.get("msg").getAsString()).contains(message);
    assertThat(e.has("cniVersion")).isTrue();
  }

  @Test
  void versionListsWhatThePluginSupports() {
    CniPlugin.Outcome o = plugin.run(Map.of("CNI_COMMAND", "VERSION"), "{\"cniVersion\": \"1.0.0\"}");
    assertThat(o.exitCode()).isZero();
    assertThat(json(o.stdout()).get("cniVersion").getAsString()).isEqualTo("1.0.0");
    assertThat(json(o.stdout()).getAsJsonArray("supportedVersions").toString())
        .isEqualTo("[\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\",\"1.1.0\"]");
    assertThat(agent.calls).isEmpty();
  }

  @Test
  void addWaitsForTheAgentAndPassesThePreviousResultThrough() {
    CniPlugin.Outcome o = plugin.run(env("ADD"), config("1.0.0", ", \"prevResult\": " + PREV));
    assertThat(o.exitCode()).isZero();
    assertThat(json(o.stdout())).isEqualTo(json(PREV));
    assertThat(agent.calls).containsExactly("add");
    assertThat(agent.last).isEqualTo(new AgentChannel.Attachment("c0ffee", "/var/run/netns/p1", "eth0", "demo", "web-0",
        "u-1", List.of("10.1.0.7", "fd00::7")));
  }

  @Test
  void theResultTakesTheConfigurationsVersion() {
    CniPlugin.Outcome o = plugin.run(env("ADD"), config("0.4.0", ", \"prevResult\": " + PREV));
    assertThat(json(o.stdout()).get("cniVersion").getAsString()).isEqualTo("0.4.0");
  }

  @Test
  void anUnreachableAgentFailsAddSoThePodDoesNotStartUncaptured() {
    agent.unreachable = new IOException("cannot connect to /var/run/trellis/cni.sock: No such file");
    CniPlugin.Outcome o = plugin.run(env("ADD"), config("1.0.0", ", \"prevResult\": " + PREV));
    assertError(o, CniError.TRY_AGAIN_LATER, "the Trellis node agent at /var/run/trellis/cni.sock did not answer");
    assertThat(json(o.stdout()).get("details").getAsString()).contains("DaemonSet").contains("No such file");
  }

  @Test
  void excludedNamespacesNeverWaitForTheAgent() {
    agent.unreachable = new IOException("down");
    Map<String, String> env = env("ADD");
    env.put("CNI_ARGS", "K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=coredns-0");
    CniPlugin.Outcome o = plugin.run(env, config("1.0.0", ", \"prevResult\": " + PREV));
    assertThat(o.exitCode()).isZero();
    assertThat(agent.calls).isEmpty();

    env.put("CNI_ARGS", "K8S_POD_NAMESPACE=infra;K8S_POD_NAME=x");
    assertThat(plugin.run(env, config("1.0.0", ", \"excludeNamespaces\": [\"infra\"], \"prevResult\": " + PREV))
        .exitCode()).isZero();
    assertThat(agent.calls).isEmpty();
  }

  @Test
  void addOutsideAChainIsAConfigurationError() {
    assertError(plugin.run(env("ADD"), config("1.0.0", "")), CniError.INVALID_CONFIG, "chained after");
  }

  @Test
  void anAgentThatFailsFailsAdd() {
    agent.failure = new AgentChannel.AgentException("bpf map full");
    CniPlugin.Outcome o = plugin.run(env("ADD"), config("1.0.0", ", \"prevResult\": " + PREV));
    assertError(o, CniError.AGENT_FAILED, "demo/web-0");
    assertThat(json(o.stdout()).get("details").getAsString()).isEqualTo("bpf map full");
  }

  @Test
  void badInvocationsGetTheSpecsCodes() {
    assertError(plugin.run(Map.of(), config("1.0.0", "")), CniError.INVALID_ENVIRONMENT, "CNI_COMMAND is not set");
    assertError(plugin.run(Map.of("CNI_COMMAND", "ATTACH"), config("1.0.0", "")), CniError.INVALID_ENVIRONMENT,
        "'ATTACH' is not a CNI verb");
    assertError(plugin.run(env("ADD"), "{not json"), CniError.DECODING_FAILURE, "not valid JSON");
    assertError(plugin.run(env("ADD"), "{\"name\": \"n\"}"), CniError.INVALID_CONFIG, "no cniVersion");
    assertError(plugin.run(env("ADD"), config("0.2.0", "")), CniError.INCOMPATIBLE_VERSION, "0.2.0");
    Map<String, String> noNetns = env("ADD");
    noNetns.remove("CNI_NETNS");
    assertError(plugin.run(noNetns, config("1.0.0", "")), CniError.INVALID_ENVIRONMENT, "CNI_NETNS is not set");
    Map<String, String> badArgs = env("ADD");
    badArgs.put("CNI_ARGS", "K8S_POD_NAME");
    assertError(plugin.run(badArgs, config("1.0.0", "")), CniError.INVALID_ENVIRONMENT, "not KEY=VALUE");
    assertError(plugin.run(env("ADD"), config("1.0.0", ", \"agentTimeoutMillis\": 0, \"prevResult\": " + PREV)),
        CniError.INVALID_CONFIG, "agentTimeoutMillis: 0");
    assertError(plugin.run(env("ADD"), config("1.0.0", ", \"excludeNamespaces\": \"kube-system\"")),
        CniError.INVALID_CONFIG, "excludeNamespaces a list");
    assertThat(agent.calls).isEmpty();
  }

  @Test
  void delSucceedsEvenWhenTheAgentIsDown() {
    agent.unreachable = new IOException("down");
    Map<String, String> env = env("DEL");
    env.remove("CNI_NETNS"); // the runtime may have torn the namespace down already
    CniPlugin.Outcome o = plugin.run(env, config("1.0.0", ""));
    assertThat(o.exitCode()).isZero();
    assertThat(o.stdout()).isEmpty();
    assertThat(agent.calls).containsExactly("del");
    assertThat(agent.last.containerId()).isEqualTo("c0ffee");
  }

  @Test
  void aPreviousResultWhoseAddressIsNotAStringFailsAddButNotDel() {
    String bad = ", \"prevResult\": {\"ips\": [{\"address\": {\"v4\": \"10.1.0.7\"}}]}";
    assertError(plugin.run(env("ADD"), config("1.0.0", bad)), CniError.INVALID_CONFIG,
        "prevResult.ips[0].address is {\"v4\":\"10.1.0.7\"}, not a string");
    assertThat(agent.calls).isEmpty();
    CniPlugin.Outcome del = plugin.run(env("DEL"), config("1.0.0", bad));
    assertThat(del.exitCode()).isZero();
    assertThat(agent.calls).containsExactly("del");
    assertThat(agent.last.ips()).isEmpty();
  }

  @Test
  void checkReportsMissingRedirection() {
    assertThat(plugin.run(env("CHECK"), config("1.0.0", ", \"prevResult\": " + PREV)).exitCode()).isZero();
    agent.state = AgentChannel.State.MISSING;
    assertError(plugin.run(env("CHECK"), config("1.0.0", ", \"prevResult\": " + PREV)), CniError.REDIRECTION_MISSING,
        "redirection for pod demo/web-0 is not in place");
    agent.state = AgentChannel.State.NOT_ENROLLED;
    assertThat(plugin.run(env("CHECK"), config("1.0.0", ", \"prevResult\": " + PREV)).exitCode()).isZero();
  }

  @Test
  void statusAndGcAreCni11Verbs() {
    agent.state = AgentChannel.State.READY;
    assertThat(plugin.run(Map.of("CNI_COMMAND", "STATUS"), config("1.1.0", "")).exitCode()).isZero();
    agent.state = AgentChannel.State.NOT_READY;
    assertError(plugin.run(Map.of("CNI_COMMAND", "STATUS"), config("1.1.0", "")), CniError.NOT_AVAILABLE,
        "not ready");
    assertError(plugin.run(Map.of("CNI_COMMAND", "STATUS"), config("1.0.0", "")), CniError.INCOMPATIBLE_VERSION,
        "STATUS needs CNI version 1.1.0");

    agent.state = AgentChannel.State.READY;
    CniPlugin.Outcome gc = plugin.run(Map.of("CNI_COMMAND", "GC"), config("1.1.0",
        ", \"cni.dev/valid-attachments\": [{\"containerID\": \"a1\", \"ifname\": \"eth0\"}, {\"containerID\": \"b2\"}]"));
    assertThat(gc.exitCode()).isZero();
    assertThat(agent.valid).containsExactly("a1", "b2");
  }
}
