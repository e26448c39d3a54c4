package dev.trellis.proxy.redirect;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node agent's decisions and memory: which pods on this node are captured, kept in step with the
 * runtime's CNI calls. ADD decides enrollment ({@link Enrollment}) and installs redirection before it
 * answers, so a pod's containers never start uncaptured; a repeated ADD for the same container installs
 * nothing twice; DEL removes everything (and is no error for an unknown container); CHECK verifies;
 * GC removes captures of containers the runtime no longer has. It remembers every pod the runtime
 * reported, so a label change later can enroll or release it ({@link #reconcile}), and with an
 * {@link AgentStateFile} it gets them back after its own restart ({@link #restore}). Not thread-safe:
 * the agent server calls it from one thread.
 */
public final class CaptureAgent {

  private static final Logger log = LoggerFactory.getLogger(CaptureAgent.class);

  /** What the agent says about a pod (add, check) or itself (status). */
  public enum State {
    /** The pod is enrolled and its redirection is in place. */
    CAPTURED,
    /** The pod is not enrolled (namespace not labeled, pod opted out): nothing to do. */
    NOT_ENROLLED,
    /** check: the pod is enrolled but its redirection is not (all) in place. */
    MISSING,
    /** status: the agent takes ADDs. */
    READY,
    /** status: the agent cannot take ADDs now (still starting). */
    NOT_READY
  }

  /** The agent's answer, with its reason in words for logs and errors. */
  public record Answer(State state, String reason) {}

  private final PodDirectory directory;
  private final Redirector redirector;
  private final AgentStateFile state;
  private final CgroupResolver cgroups;
  /** Every attachment the runtime reported and not yet deleted, enrolled or not. */
  private final Map<String, PodAttachment> known = new LinkedHashMap<>();
  private final Map<String, Redirector.Target> captured = new LinkedHashMap<>();
  private volatile boolean ready;

  public CaptureAgent(PodDirectory directory, Redirector redirector) {
    this(directory, redirector, null);
  }

  /** @param state where the agent remembers its pods across restarts, or null to forget them */
  public CaptureAgent(PodDirectory directory, Redirector redirector, AgentStateFile state) {
    this(directory, redirector, state, CgroupResolver.none());
  }

  /** @param cgroups finds each pod's cgroup directory (eBPF attaches there) */
  public CaptureAgent(PodDirectory directory, Redirector redirector, AgentStateFile state, CgroupResolver cgroups) {
    this.directory = directory;
    this.redirector = redirector;
    this.state = state;
    this.cgroups = cgroups;
  }

  /** Marks the agent able to take ADDs (after it reconciled what existed before it started). */
  public void ready() {
    ready = true;
  }

  /**
   * After a restart: takes back the pods it knew, re-installs the captured ones (the redirector's
   * tables were set up afresh), then reconciles with the directory. Established connections keep
   * flowing throughout (redirection only steers new ones). A pod the directory (which has listed every pod of
   * the node by now) no longer has, or has with another uid, was deleted while the agent was down: its DEL found
   * no agent, so its redirection is removed here and the pod forgotten (a pod recreated under that name comes with
   * an ADD of its own), reported among the released ones.
   */
  public Reconciliation restore() throws IOException {
    List<String> gone = new ArrayList<>();
    List<String> failures = new ArrayList<>();
    if (state != null) {
      for (AgentStateFile.Entry e : state.load()) {
        PodAttachment a = e.attachment();
        Optional<PodDirectory.Pod> pod = a.namespace() == null ? Optional.empty()
            : directory.find(a.namespace(), a.pod(), a.podUid());
        if (a.namespace() != null && pod.isEmpty()) {
          forgetDeleted(a, e.captured(), gone, failures);
          continue;
        }
        known.put(a.containerId(), a);
        if (e.captured()) {
          Redirector.Target t;
          try {
            t = target(a, pod);
          } catch (IllegalArgumentException bad) {
            log.warn("pod {}/{}: {}; restored without exclusions", a.namespace(), a.pod(), bad.getMessage());
            t = target(a, Optional.empty());
          }
          redirector.install(t);
          captured.put(a.containerId(), t);
        }
      }
    }
    Reconciliation now = reconcile();
    List<String> released = new ArrayList<>(gone);
    released.addAll(now.released());
    failures.addAll(now.failures());
    return new Reconciliation(now.captured(), released, failures);
  }

  /** A pod deleted while the agent was down: whatever redirection is left of it goes (kept for GC if that fails). */
  private void forgetDeleted(PodAttachment a, boolean wasCaptured, List<String> gone, List<String> failures) {
    String name = a.namespace() + "/" + a.pod();
    if (!wasCaptured) {
      gone.add(name);
      return;
    }
    Redirector.Target t = target(a, Optional.empty());
    try {
      redirector.remove(t);
      gone.add(name);
      log.info("released pod {} (container {}): deleted while the node agent was down", name, a.containerId());
    } catch (IOException | RuntimeException e) {
      known.put(a.containerId(), a);
      captured.put(a.containerId(), t); // a later DEL or GC removes it
      failures.add(name + ": removing the redirection of a pod deleted while the agent was down failed: "
          + e.getMessage());
    }
  }

  /** What one reconciliation changed, and what it could not. */
  public record Reconciliation(List<String> captured, List<String> released, List<String> failures) {}

  /**
   * Brings every known pod in line with its enrollment now (namespace or pod labels changed): enrolls
   * newly labeled pods, releases un-enrolled ones; pods the directory no longer knows are left to DEL
   * and GC. One failure does not stop the others.
   */
  public Reconciliation reconcile() {
    List<String> added = new ArrayList<>();
    List<String> released = new ArrayList<>();
    List<String> failures = new ArrayList<>();
    for (PodAttachment a : List.copyOf(known.values())) {
      Optional<PodDirectory.Pod> pod = a.namespace() == null ? Optional.empty()
          : directory.find(a.namespace(), a.pod(), a.podUid());
      if (pod.isEmpty()) {
        continue;
      }
      boolean enrolled = Enrollment.decide(pod.get().namespace(), pod.get().namespaceLabels(), pod.get().labels(),
          pod.get().hostNetwork()).enrolled();
      String name = a.namespace() + "/" + a.pod();
      try {
        if (enrolled && !captured.containsKey(a.containerId())) {
          Redirector.Target t = target(a, pod);
          redirector.install(t);
          captured.put(a.containerId(), t);
          added.add(name);
        } else if (!enrolled && captured.containsKey(a.containerId())) {
          redirector.remove(captured.get(a.containerId()));
          captured.remove(a.containerId());
          released.add(name);
        }
      } catch (IOException | RuntimeException e) {
        failures.add(name + ": " + e.getMessage());
      }
    }
    persist();
    if (!added.isEmpty() || !released.isEmpty() || !failures.isEmpty()) {
      log.info("reconciled: captured {}, released {}, failed {}", added, released, failures);
    }
    return new Reconciliation(added, released, failures);
  }

  /** What to install for the pod: its addresses, the exclusions its annotations ask for, its cgroup. */
  private Redirector.Target target(PodAttachment a, Optional<PodDirectory.Pod> pod) {
    Exclusions exclusions = pod.map(p -> Exclusions.of(p.annotations())).orElse(Exclusions.NONE);
    return new Redirector.Target(a.containerId(), a.netns(), a.namespace(), a.pod(), a.ips(), exclusions,
        cgroups.find(a, pod).orElse(null));
  }

  private void persist() {
    if (state == null) {
      return;
    }
    List<AgentStateFile.Entry> entries = new ArrayList<>();
    known.values().forEach(a -> entries.add(new AgentStateFile.Entry(a, captured.containsKey(a.containerId()))));
    try {
      state.save(entries);
    } catch (IOException e) {
      log.warn("cannot save the node agent's state: {}", e.toString()); // in memory it is still right
    }
  }

  /** The containers currently captured (for status and tests). */
  public Set<String> capturedContainers() {
    return Set.copyOf(captured.keySet());
  }

  /** ADD: installs redirection for the pod if it is enrolled; returns once it is in place. */
  public Answer add(PodAttachment a) {
    if (!ready) {
      throw new CaptureException(CaptureException.Reason.NOT_READY, "the node agent is still starting");
    }
    Redirector.Target existing = captured.get(a.containerId());
    if (existing != null) {
      return new Answer(State.CAPTURED, "already captured");
    }
    Optional<PodDirectory.Pod> pod = a.namespace() == null ? Optional.empty()
        : directory.find(a.namespace(), a.pod(), a.podUid());
    if (pod.isEmpty()) {
      // Unknown pods are not guessed at: the runtime retries, and the directory catches up.
      throw new CaptureException(CaptureException.Reason.UNKNOWN_POD, "pod " + a.namespace() + "/" + a.pod()
          + " (uid " + a.podUid() + ") is not known to the node agent yet");
    }
    Enrollment.Decision d = Enrollment.decide(pod.get().namespace(), pod.get().namespaceLabels(), pod.get().labels(),
        pod.get().hostNetwork());
    known.put(a.containerId(), a);
    if (!d.enrolled()) {
      persist();
      return new Answer(State.NOT_ENROLLED, d.reason());
    }
    Redirector.Target t;
    try {
      t = target(a, pod);
    } catch (IllegalArgumentException e) {
      known.remove(a.containerId());
      throw new CaptureException(CaptureException.Reason.BAD_ANNOTATION, "pod " + a.namespace() + "/" + a.pod()
          + " has a bad annotation: " + e.getMessage());
    }
    try {
      redirector.install(t);
    } catch (IOException | RuntimeException e) {
      known.remove(a.containerId());
      removeQuietly(t);
      throw new CaptureException(CaptureException.Reason.REDIRECTION_FAILED, redirector.name() + " redirection for "
          + a.namespace() + "/" + a.pod() + " failed: " + e.getMessage());
    }
    captured.put(a.containerId(), t);
    persist();
    log.info("captured pod {}/{} ({}; {})", a.namespace(), a.pod(), redirector.name(), d.reason());
    return new Answer(State.CAPTURED, d.reason());
  }

  /** DEL: removes whatever redirection the pod has; idempotent. */
  public void delete(PodAttachment a) {
    known.remove(a.containerId());
    Redirector.Target t = captured.remove(a.containerId());
    if (t == null) {
      persist();
      return;
    }
    try {
      redirector.remove(t);
      persist();
      log.info("released pod {}/{}", t.namespace(), t.pod());
    } catch (IOException | RuntimeException e) {
      captured.put(a.containerId(), t); // keep it, so a retried DEL or GC removes it later
      persist();
      throw new CaptureException(CaptureException.Reason.REDIRECTION_FAILED, "removing " + redirector.name()
          + " redirection for " + t.namespace() + "/" + t.pod() + " failed: " + e.getMessage());
    }
  }

  /** CHECK: whether the pod's redirection is as the agent would set it up now. */
  public Answer check(PodAttachment a) {
    Redirector.Target t = captured.get(a.containerId());
    if (t == null) {
      return new Answer(State.NOT_ENROLLED, "container " + a.containerId() + " is not captured");
    }
    try {
      return redirector.verify(t) ? new Answer(State.CAPTURED, "in place")
          : new Answer(State.MISSING, redirector.name() + " redirection for " + t.namespace() + "/" + t.pod()
              + " is incomplete");
    } catch (IOException e) {
      throw new CaptureException(CaptureException.Reason.REDIRECTION_FAILED, "verifying redirection failed: "
          + e.getMessage());
    }
  }

  /** STATUS: whether the agent takes ADDs now. */
  public Answer status() {
    return ready ? new Answer(State.READY, redirector.name() + ", " + captured.size() + " pods captured")
        : new Answer(State.NOT_READY, "starting");
  }

  /** GC: removes redirection of every container not in {@code validContainerIds}. */
  public void collect(List<String> validContainerIds) {
    Set<String> valid = new HashSet<>(validContainerIds);
    List<String> failures = new ArrayList<>();
    known.keySet().removeIf(id -> !valid.contains(id) && !captured.containsKey(id));
    for (String id : List.copyOf(captured.keySet())) {
      if (!valid.contains(id)) {
        try {
          delete(new PodAttachment(id, null, null, null, null, null, List.of()));
        } catch (CaptureException e) {
          failures.add(e.getMessage());
        }
      }
    }
    persist();
    if (!failures.isEmpty()) {
      throw new CaptureException(CaptureException.Reason.REDIRECTION_FAILED, String.join("; ", failures));
    }
  }

  private void removeQuietly(Redirector.Target t) {
    try {
      redirector.remove(t);
    } catch (IOException | RuntimeException e) {
      log.warn("cleaning up a failed capture of {}/{}: {}", t.namespace(), t.pod(), e.toString());
    }
  }
}
