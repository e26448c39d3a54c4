package dev.trellis.it;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Judges a chaos run from what was collected, with no I/O: the figures table (markdown, for the test output and
 * docs/reliability.md) and every failure, each naming what was lost. Empty failures is the only pass.
 */
record ChaosReport(List<String> table, List<String> failures) {

  /** What a client pod printed: its figures (null when it printed none) and its failure lines. */
  record ClientResult(String pod, JsonObject figures, List<String> failureLines, String outputTail) {}

  /**
   * One action as it ran.
   *
   * @param tookMillis until the next action could go: for an upgrade, until its successor was ready and recorded
   * @param finishedMillis until its command ended: for an upgrade, until the old node proxy had drained and exited
   */
  record ActionResult(ChaosSchedule.Action action, Instant started, long tookMillis, long finishedMillis, boolean ok,
      String detail) {}

  /** A process's size at one moment: {@code generation} tells a node proxy's (or restarted process's) pid apart. */
  record Sample(String name, long pid, long rssKib, long openFiles) {}

  /** Everything a run collected. */
  record Run(long seconds, List<ClientResult> clients, List<ActionResult> actions, List<Sample> afterWarmUp,
      List<Sample> atEnd, Map<String, Long> leaksPerLog, boolean upgradeDuringTransfer) {}

  static ChaosReport judge(Run run) {
    List<String> table = new ArrayList<>(List.of("| figure | value |", "|---|---|"));
    List<String> failures = new ArrayList<>();
    table.add("| chaos phase | " + run.seconds() + " s; actions: " + count(run, ChaosSchedule.Kind.KILL_CONTROL_PLANE)
        + " control-plane kills, " + count(run, ChaosSchedule.Kind.UPGRADE_NODE_PROXY) + " node-proxy upgrades, "
        + count(run, ChaosSchedule.Kind.RESTART_NODE_AGENT) + " node-agent restarts, "
        + count(run, ChaosSchedule.Kind.FLIP_SPLIT) + " split flips (done/planned) |");
    for (ActionResult a : run.actions()) {
      if (!a.ok()) {
        failures.add("action " + a.action() + " failed after " + a.tookMillis() + " ms: " + a.detail());
      }
    }
    long drained = run.actions().stream().filter(a -> a.action().kind() == ChaosSchedule.Kind.UPGRADE_NODE_PROXY)
        .mapToLong(ActionResult::finishedMillis).max().orElse(0);
    table.add("| longest node-proxy upgrade until the old proxy drained and exited (the TCP transfer holds it) | "
        + drained + " ms |");
    for (ChaosSchedule.Kind kind : ChaosSchedule.Kind.values()) {
      long slowest = run.actions().stream().filter(a -> a.action().kind() == kind).mapToLong(ActionResult::tookMillis)
          .max().orElse(0);
      table.add("| longest " + switch (kind) {
        case UPGRADE_NODE_PROXY -> "node-proxy upgrade until its successor was ready (`trellis restart node-N`)";
        case KILL_CONTROL_PLANE -> "control-plane kill (`trellis restart control-plane --kill`: until ready again)";
        case RESTART_NODE_AGENT -> "node-agent restart (`trellis restart node-N --node-agent`)";
        case FLIP_SPLIT -> "split flip (mesh file edited until both proxies' config has it)";
      } + " | " + slowest + " ms |");
    }
    long longestPause = 0;
    for (ClientResult c : run.clients()) {
      if (c.figures() == null) {
        failures.add(c.pod() + ": the client printed no figures; last output: " + c.outputTail());
        continue;
      }
      JsonObject f = c.figures();
      for (String loop : List.of("http-keep_alive", "http-new_per_request")) {
        if (f.has(loop)) {
          JsonObject h = f.getAsJsonObject(loop);
          table.add("| " + c.pod() + " " + loop + ": requests sent / failed (of them 504 UT) | " + n(h, "sent") + " / "
              + n(h, "failed") + " (" + n(h, "ut504") + "); stale keep-alive retries " + n(h, "staleRetries")
              + "; longest pause " + n(h, "longestPauseMs") + " ms |");
          longestPause = Math.max(longestPause, n(h, "longestPauseMs"));
          if (n(h, "failed") > 0) {
            failures.add(c.pod() + " " + loop + ": " + n(h, "failed") + " of " + n(h, "sent") + " requests failed ("
                + n(h, "ut504") + " of them 504 UT)");
          }
          if (n(h, "ok") == 0) {
            failures.add(c.pod() + " " + loop + ": no request succeeded");
          }
        }
      }
      for (String key : f.keySet().stream().filter(k -> k.startsWith("h2load-")).toList()) {
        JsonObject h = f.getAsJsonObject(key);
        // Judged: run in bursts (-n), h2load follows a drain (reconnects after Connection: close and GOAWAY), so a
        // request it did not get a 2xx for is the mesh's loss; its bursts with failures are listed below.
        table.add("| " + c.pod() + " " + key + ": requests / not 2xx (failed, errored, timeout) | "
            + n(h, "requests") + " / " + n(h, "not2xx") + " (" + n(h, "failed") + ", " + n(h, "errored") + ", "
            + n(h, "timeout") + ") in " + n(h, "bursts") + " bursts |");
        if (n(h, "requests") == 0) {
          failures.add(c.pod() + " " + key + ": h2load sent no request");
        }
        if (n(h, "not2xx") > 0) {
          failures.add(c.pod() + " " + key + ": " + n(h, "not2xx") + " of " + n(h, "requests") + " requests not 2xx");
        }
      }
      if (f.has("grpc")) {
        JsonObject g = f.getAsJsonObject("grpc");
        table.add("| " + c.pod() + " gRPC: streams / failed, messages / echoes | " + n(g, "streams") + " / "
            + n(g, "streamsFailed") + ", " + n(g, "messages") + " / " + n(g, "echoes") + "; longest gap "
            + n(g, "longestGapMs") + " ms |");
        longestPause = Math.max(longestPause, n(g, "longestGapMs"));
        if (n(g, "streamsFailed") > 0 || n(g, "streams") == 0) {
          failures.add(c.pod() + " gRPC: " + n(g, "streamsFailed") + " of " + n(g, "streams") + " streams failed");
        }
      }
      if (f.has("tcp")) {
        JsonObject t = f.getAsJsonObject("tcp");
        boolean exact = t.get("exact").getAsBoolean();
        table.add("| " + c.pod() + " TCP transfer: bytes sent / received, SHA-256 | " + n(t, "sent") + " / "
            + n(t, "received") + ", " + (exact ? "equal " + t.get("sentSha256").getAsString() : "sent "
            + t.get("sentSha256").getAsString() + " received " + t.get("receivedSha256").getAsString()) + "; "
            + t.get("started").getAsString() + " to " + t.get("ended").getAsString() + "; longest read pause "
            + n(t, "longestReadPauseMs") + " ms |");
        longestPause = Math.max(longestPause, n(t, "longestReadPauseMs"));
        if (!exact) {
          failures.add(c.pod() + " TCP transfer not byte-exact: sent " + n(t, "sent") + " of " + n(t, "bytes")
              + ", received " + n(t, "received") + (t.get("error").getAsString().isEmpty() ? ""
              : ", " + t.get("error").getAsString()));
        }
        if (!run.upgradeDuringTransfer()) {
          failures.add("no node-proxy upgrade started while the TCP transfer ran: the transfer proved nothing about "
              + "upgrades (lengthen tcpSeconds or move the first upgrade)");
        }
      }
      c.failureLines().stream().limit(40).forEach(l -> failures.add(c.pod() + ": " + l));
    }
    table.add("| longest pause a client saw | " + longestPause + " ms |");
    long leaks = run.leaksPerLog().values().stream().mapToLong(Long::longValue).sum();
    table.add("| Netty leak reports (`LEAK:` lines in " + run.leaksPerLog().size() + " logs, paranoid detection) | "
        + leaks + " |");
    run.leaksPerLog().forEach((log, n) -> {
      if (n > 0) {
        failures.add(n + " Netty LEAK: reports in " + log);
      }
    });
    for (Sample before : run.afterWarmUp()) {
      Sample after = run.atEnd().stream().filter(s -> s.name().equals(before.name())).findFirst().orElse(null);
      table.add(String.format(Locale.ROOT, "| %s: RSS / open files, after warm-up (pid %d) → at the end (%s) | %d MiB "
          + "/ %d → %s |", before.name(), before.pid(), after == null ? "gone" : after.pid() == before.pid()
          ? "same pid" : "pid " + after.pid(), before.rssKib() / 1024, before.openFiles(), after == null ? "—"
          : after.rssKib() / 1024 + " MiB / " + after.openFiles()));
      if (after == null) {
        failures.add(before.name() + " is not running at the end");
      }
    }
    return new ChaosReport(table, failures);
  }

  /** "done/planned" actions of {@code kind}. */
  private static String count(Run run, ChaosSchedule.Kind kind) {
    return run.actions().stream().filter(a -> a.action().kind() == kind && a.ok()).count() + "/"
        + run.actions().stream().filter(a -> a.action().kind() == kind).count();
  }

  private static long n(JsonObject o, String key) {
    JsonElement e = o.get(key);
    return e == null || e.isJsonNull() ? 0 : e.getAsLong();
  }
}
