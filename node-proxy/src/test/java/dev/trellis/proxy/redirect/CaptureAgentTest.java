package dev.trellis.proxy.redirect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

class CaptureAgentTest {

  /** Records installs and removals; can be told to fail or to lose a pod's rules. */
  static final class RecordingRedirector implements Redirector {
    final List<String> log = new ArrayList<>();
    final Set<String> installed = new HashSet<>();
    final List<Target> targets = new ArrayList<>();
    IOException failInstall;
    IOException failRemove;

    @Override
    public void install(Target t) throws IOException {
      log.add("install " + t.containerId());
      targets.add(t);
      if (failInstall != null) {
        throw failInstall;
      }
      installed.add(t.containerId());
    }

    @Override
    public void remove(Target t) throws IOException {
      log.add("remove " + t.containerId());
      if (failRemove != null) {
        throw failRemove;
      }
      installed.remove(t.containerId());
    }

    @Override
    public boolean verify(Target t) {
      return installed.contains(t.containerId());
    }

    @Override
    public String name() {
      return "recording";
    }
  }

  static PodDirectory directory(Map<String, PodDirectory.Pod> pods) {
    return (ns, name, uid) -> Optional.ofNullable(pods.get(ns + "/" + name));
  }

  static final Map<String, String> ENABLED = Map.of(Enrollment.LABEL, "enabled");
  final Map<String, PodDirectory.Pod> pods = new HashMap<>(Map.of(
      "demo/web-0", new PodDirectory.Pod("demo", "web-0", "u1", Map.of("app", "web"), ENABLED, false),
      "demo/batch-0", new PodDirectory.Pod("demo", "batch-0", "u2", Map.of(Enrollment.LABEL, "disabled"), ENABLED,
          false),
      "plain/app-0", new PodDirectory.Pod("plain", "app-0", "u3", Map.of(), Map.of(), false)));
  final RecordingRedirector redirector = new RecordingRedirector();
  final CaptureAgent agent = new CaptureAgent(directory(pods), redirector);

  static PodAttachment pod(String container, String ns, String name) {
    return new PodAttachment(container, "/var/run/netns/" + container, "eth0", ns, name, "u", List.of("10.1.0.7"));
  }

  @Test
  void anEnrolledPodIsCapturedOnceHoweverOftenItIsAdded() {
    agent.ready();
    assertThat(agent.add(pod("c1", "demo", "web-0")).state()).isEqualTo(CaptureAgent.State.CAPTURED);
    assertThat(agent.add(pod("c1", "demo", "web-0")).reason()).isEqualTo("already captured");
    assertThat(redirector.log).containsExactly("install c1");
    assertThat(agent.check(pod("c1", "demo", "web-0")).state()).isEqualTo(CaptureAgent.State.CAPTURED);
  }

  @Test
  void podsThatAreNotEnrolledAreLeftAlone() {
    agent.ready();
    assertThat(agent.add(pod("c2", "demo", "batch-0")))
        .isEqualTo(new CaptureAgent.Answer(CaptureAgent.State.NOT_ENROLLED, "pod is labeled trellis.dev/mesh=disabled"));
    assertThat(agent.add(pod("c3", "plain", "app-0")).state()).isEqualTo(CaptureAgent.State.NOT_ENROLLED);
    assertThat(redirector.log).isEmpty();
  }

  @Test
  void addsWaitUntilTheAgentIsReadyAndUnknownPodsAreNotGuessed() {
    assertThatThrownBy(() -> agent.add(pod("c1", "demo", "web-0"))).isInstanceOf(CaptureException.class)
        .hasMessage("the node agent is still starting");
    assertThat(agent.status().state()).isEqualTo(CaptureAgent.State.NOT_READY);
    agent.ready();
    assertThatThrownBy(() -> agent.add(pod("c9", "demo", "ghost-0"))).hasMessageContaining("not known to the node agent");
    assertThat(redirector.log).isEmpty();
  }

  @Test
  void aFailedInstallLeavesNothingBehind() {
    agent.ready();
    redirector.failInstall = new IOException("map full");
    assertThatThrownBy(() -> agent.add(pod("c1", "demo", "web-0"))).isInstanceOf(CaptureException.class)
        .hasMessage("recording redirection for demo/web-0 failed: map full");
    assertThat(redirector.log).containsExactly("install c1", "remove c1");
    assertThat(agent.capturedContainers()).isEmpty();
  }

  @Test
  void deleteRemovesEverythingAndIsIdempotent() {
    agent.ready();
    agent.add(pod("c1", "demo", "web-0"));
    agent.delete(pod("c1", null, null));
    agent.delete(pod("c1", null, null));
    assertThat(redirector.log).containsExactly("install c1", "remove c1");
    assertThat(redirector.installed).isEmpty();
    assertThat(agent.check(pod("c1", "demo", "web-0")).state()).isEqualTo(CaptureAgent.State.NOT_ENROLLED);
  }

  @Test
  void aFailedRemovalIsKeptForTheNextTry() {
    agent.ready();
    agent.add(pod("c1", "demo", "web-0"));
    redirector.failRemove = new IOException("busy");
    assertThatThrownBy(() -> agent.delete(pod("c1", null, null))).hasMessageContaining("busy");
    redirector.failRemove = null;
    agent.collect(List.of());
    assertThat(redirector.installed).isEmpty();
    assertThat(agent.capturedContainers()).isEmpty();
  }

  @Test
  void checkFindsMissingRedirectionAndGcKeepsOnlyValidContainers() {
    agent.ready();
    agent.add(pod("c1", "demo", "web-0"));
    agent.add(pod("c4", "demo", "web-0"));
    redirector.installed.remove("c1"); // someone flushed the rules
    assertThat(agent.check(pod("c1", "demo", "web-0")).state()).isEqualTo(CaptureAgent.State.MISSING);
    agent.collect(List.of("c1"));
    assertThat(agent.capturedContainers()).containsExactly("c1");
    assertThat(redirector.log).endsWith("remove c4");
  }

  @Test
  void labelChangesEnrollAndReleasePodsTheAgentAlreadyKnows() {
    agent.ready();
    agent.add(pod("c3", "plain", "app-0"));
    agent.add(pod("c2", "demo", "batch-0"));
    assertThat(agent.capturedContainers()).isEmpty();

    pods.put("plain/app-0", new PodDirectory.Pod("plain", "app-0", "u3", Map.of(), ENABLED, false)); // ns labeled
    pods.put("demo/batch-0", new PodDirectory.Pod("demo", "batch-0", "u2", Map.of(), ENABLED, false)); // opt-out gone
    CaptureAgent.Reconciliation r = agent.reconcile();
    assertThat(r.captured()).containsExactlyInAnyOrder("plain/app-0", "demo/batch-0");
    assertThat(agent.capturedContainers()).containsExactlyInAnyOrder("c2", "c3");

    pods.put("plain/app-0", new PodDirectory.Pod("plain", "app-0", "u3", Map.of(), Map.of(), false)); // unlabeled
    assertThat(agent.reconcile().released()).containsExactly("plain/app-0");
    assertThat(redirector.installed).containsExactly("c2");
    assertThat(agent.reconcile()).isEqualTo(new CaptureAgent.Reconciliation(List.of(), List.of(), List.of()));
  }

  @Test
  void aRestartedAgentTakesBackItsPodsFromTheStateFile(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
      throws IOException {
    AgentStateFile file = new AgentStateFile(dir.resolve("agent/state.json"));
    CaptureAgent first = new CaptureAgent(directory(pods), redirector, file);
    first.ready();
    first.add(pod("c1", "demo", "web-0"));
    first.add(pod("c3", "plain", "app-0"));

    RecordingRedirector fresh = new RecordingRedirector(); // the tables were set up afresh
    CaptureAgent second = new CaptureAgent(directory(pods), fresh, file);
    assertThat(second.restore().failures()).isEmpty();
    second.ready();
    assertThat(second.capturedContainers()).containsExactly("c1");
    assertThat(fresh.installed).containsExactly("c1");
    pods.put("plain/app-0", new PodDirectory.Pod("plain", "app-0", "u3", Map.of(), ENABLED, false));
    assertThat(second.reconcile().captured()).as("the pod it knew but had not captured").containsExactly("plain/app-0");

    second.delete(pod("c1", null, null));
    assertThat(new AgentStateFile(dir.resolve("agent/state.json")).load()).extracting(e -> e.attachment().containerId())
        .containsExactly("c3");
  }

  @Test
  void aRestartedAgentKeepsEveryLivePodsRedirectionAndCleansPodsDeletedWhileItWasDown(
      @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws IOException {
    pods.put("demo/api-0", new PodDirectory.Pod("demo", "api-0", "u4", Map.of(), ENABLED, false));
    pods.put("demo/old-0", new PodDirectory.Pod("demo", "old-0", "u5", Map.of(), ENABLED, false));
    AgentStateFile file = new AgentStateFile(dir.resolve("state.json"));
    PodDirectory byUid = (ns, name, uid) -> Optional.ofNullable(pods.get(ns + "/" + name))
        .filter(p -> uid == null || uid.equals(p.uid()));
    CaptureAgent first = new CaptureAgent(byUid, redirector, file);
    first.ready();
    first.add(new PodAttachment("c1", "/var/run/netns/c1", "eth0", "demo", "web-0", "u1", List.of("10.1.0.7")));
    first.add(new PodAttachment("c4", "/var/run/netns/c4", "eth0", "demo", "api-0", "u4", List.of("10.1.0.8")));
    first.add(new PodAttachment("c5", "/var/run/netns/c5", "eth0", "demo", "old-0", "u5", List.of("10.1.0.9")));
    assertThat(first.capturedContainers()).containsExactlyInAnyOrder("c1", "c4", "c5");

    // The agent is down: api-0 is deleted (its DEL found no agent), old-0 is deleted and a new pod of that name
    // comes up (another uid; its ADD waits for the agent), web-0 lives on.
    pods.remove("demo/api-0");
    pods.put("demo/old-0", new PodDirectory.Pod("demo", "old-0", "u6", Map.of(), ENABLED, false));

    RecordingRedirector fresh = new RecordingRedirector(); // the tables were set up afresh
    CaptureAgent second = new CaptureAgent(byUid, fresh, file);
    CaptureAgent.Reconciliation restored = second.restore();
    assertThat(restored.failures()).isEmpty();
    assertThat(restored.released()).as("pods gone while the agent was down").containsExactlyInAnyOrder("demo/api-0",
        "demo/old-0");
    second.ready();
    assertThat(second.capturedContainers()).containsExactly("c1");
    assertThat(fresh.installed).as("redirection in place after the restart").containsExactly("c1");
    assertThat(second.check(pod("c1", "demo", "web-0")).state()).isEqualTo(CaptureAgent.State.CAPTURED);
    assertThat(new AgentStateFile(dir.resolve("state.json")).load()).extracting(e -> e.attachment().containerId())
        .containsExactly("c1");
    // The new old-0 is captured when its ADD arrives, with its own addresses.
    assertThat(second.add(new PodAttachment("c6", "/var/run/netns/c6", "eth0", "demo", "old-0", "u6",
        List.of("10.1.0.10"))).state()).isEqualTo(CaptureAgent.State.CAPTURED);
    assertThat(fresh.installed).containsExactlyInAnyOrder("c1", "c6");
  }

  @Test
  void aDamagedStateFileIsNamed(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws IOException {
    java.nio.file.Path f = dir.resolve("state.json");
    java.nio.file.Files.writeString(f, "{\"pods\": [{\"containerId\": 1");
    assertThatThrownBy(() -> new AgentStateFile(f).load()).isInstanceOf(IOException.class)
        .hasMessageContaining("node agent state file " + f + " is damaged");
  }

  @Test
  void annotationsExcludePortsAndCidrsAndBadOnesAreRefused() {
    agent.ready();
    assertThat(redirector.targets).isEmpty();
    pods.put("demo/db-client-0", new PodDirectory.Pod("demo", "db-client-0", "u5", Map.of(), ENABLED, false,
        Map.of(Exclusions.PORTS, "5432, 6379", Exclusions.CIDRS, "10.0.0.0/8")));
    CaptureAgent capturing = agent;
    capturing.add(pod("c5", "demo", "db-client-0"));
    assertThat(redirector.targets.getFirst().exclusions()).isEqualTo(new Exclusions(List.of(5432, 6379), List.of("10.0.0.0/8")));

    pods.put("demo/bad-0", new PodDirectory.Pod("demo", "bad-0", "u6", Map.of(), ENABLED, false,
        Map.of(Exclusions.PORTS, "http")));
    assertThatThrownBy(() -> capturing.add(pod("c6", "demo", "bad-0"))).isInstanceOf(CaptureException.class)
        .hasMessage("pod demo/bad-0 has a bad annotation: trellis.dev/exclude-outbound-ports: 'http' is not a port "
            + "(expected: 1..65535, comma-separated)");
    assertThatThrownBy(() -> Exclusions.of(Map.of(Exclusions.CIDRS, "10.0.0.0/33")))
        .hasMessageContaining("'10.0.0.0/33' is not a CIDR");
    assertThat(Exclusions.of(Map.of(Exclusions.CIDRS, "fd00::1"))).isEqualTo(new Exclusions(List.of(), List.of("fd00:0:0:0:0:0:0:1/128")));
  }
}
