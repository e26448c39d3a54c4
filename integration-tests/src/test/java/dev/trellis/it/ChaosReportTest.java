package dev.trellis.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.trellis.it.ChaosReport.ActionResult;
import dev.trellis.it.ChaosReport.ClientResult;
import dev.trellis.it.ChaosReport.Run;
import dev.trellis.it.ChaosReport.Sample;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ChaosReportTest {

  private static final String CLEAN = """
      {"http-keep_alive":{"sent":100,"ok":100,"failed":0,"ut504":0,"staleRetries":1,"longestPauseMs":300},
       "h2load-h2":{"bursts":3,"requests":120,"2xx":120,"failed":0,"errored":0,"timeout":0,"not2xx":0},
       "grpc":{"streams":5,"streamsFailed":0,"messages":750,"echoes":750,"longestGapMs":800},
       "tcp":{"bytes":1024,"sent":1024,"received":1024,"sentSha256":"ab","receivedSha256":"ab","exact":true,
              "error":"","started":"2026-01-01T00:00:00Z","ended":"2026-01-01T00:01:00Z","longestReadPauseMs":1200},
       "failures":0}""";
  private static final ActionResult UPGRADE = new ActionResult(new ChaosSchedule.Action(Duration.ofSeconds(20),
      ChaosSchedule.Kind.UPGRADE_NODE_PROXY, "node-1"), Instant.parse("2026-01-01T00:00:20Z"), 9000, 30000, true,
      "");
  private static final List<Sample> PROCESSES = List.of(new Sample("node proxy node-1", 10, 200_000, 150));

  @Test
  void aCleanRunHasNoFailureAndItsTableCarriesTheFigures() {
    ChaosReport r = ChaosReport.judge(run(figures(CLEAN), List.of(), Map.of("node-1.log", 0L), true));
    assertThat(r.failures()).isEmpty();
    assertThat(String.join("\n", r.table())).contains("| chaos/client-1 http-keep_alive: requests sent / failed "
        + "(of them 504 UT) | 100 / 0 (0)", "equal ab", "| longest pause a client saw | 1200 ms |",
        "| Netty leak reports (`LEAK:` lines in 1 logs, paranoid detection) | 0 |",
        "| node proxy node-1: RSS / open files, after warm-up (pid 10) → at the end (same pid) | 195 MiB / 150 → 195 MiB "
            + "/ 150 |", "1/1 node-proxy upgrades",
        "| longest node-proxy upgrade until its successor was ready (`trellis restart node-N`) | 9000 ms |",
        "| longest node-proxy upgrade until the old proxy drained and exited (the TCP transfer holds it) | 30000 ms |");
  }

  @Test
  void everyLossIsNamedWithItsCount() {
    JsonObject f = figures(CLEAN.replace("\"failed\":0,\"ut504\":0", "\"failed\":3,\"ut504\":2")
        .replace("\"streamsFailed\":0", "\"streamsFailed\":1")
        .replace("\"received\":1024", "\"received\":512").replace("\"exact\":true", "\"exact\":false"));
    ActionResult failedKill = new ActionResult(new ChaosSchedule.Action(Duration.ofSeconds(30),
        ChaosSchedule.Kind.KILL_CONTROL_PLANE, "control-plane"), Instant.parse("2026-01-01T00:00:30Z"), 100, 100, false,
        "exit 2 | unknown option --kill");
    Run run = new Run(120, List.of(new ClientResult("chaos/client-1", f, List.of("2026-01-01T00:00:31Z grpc stream 3: "
        + "status UNAVAILABLE"), "")), List.of(UPGRADE, failedKill), PROCESSES, List.of(), Map.of("node-2.log", 2L),
        false);
    assertThat(ChaosReport.judge(run).failures()).containsExactly(
        "action +30s KILL_CONTROL_PLANE control-plane failed after 100 ms: exit 2 | unknown option --kill",
        "chaos/client-1 http-keep_alive: 3 of 100 requests failed (2 of them 504 UT)",
        "chaos/client-1 gRPC: 1 of 5 streams failed",
        "chaos/client-1 TCP transfer not byte-exact: sent 1024 of 1024, received 512",
        "no node-proxy upgrade started while the TCP transfer ran: the transfer proved nothing about upgrades "
            + "(lengthen tcpSeconds or move the first upgrade)",
        "chaos/client-1: 2026-01-01T00:00:31Z grpc stream 3: status UNAVAILABLE",
        "2 Netty LEAK: reports in node-2.log",
        "node proxy node-1 is not running at the end");
  }

  @Test
  void aClientThatPrintedNoFiguresFailsTheRunWithItsLastOutput() {
    Run run = new Run(120, List.of(new ClientResult("chaos/client-2", null, List.of(), "Exception in main")),
        List.of(UPGRADE), PROCESSES, PROCESSES, Map.of(), true);
    assertThat(ChaosReport.judge(run).failures())
        .containsExactly("chaos/client-2: the client printed no figures; last output: Exception in main");
  }

  @Test
  void h2loadBurstsWithRequestsNotAnswered2xxFailTheRunWithTheirLines() {
    JsonObject f = figures(CLEAN.replace("\"2xx\":120,\"failed\":0,\"errored\":0,\"timeout\":0,\"not2xx\":0",
        "\"2xx\":104,\"failed\":16,\"errored\":16,\"timeout\":0,\"not2xx\":16"));
    Run run = new Run(120, List.of(new ClientResult("chaos/client-1", f, List.of("2026-01-01T00:00:40Z h2load-h2 "
        + "requests: 40 total, 26 started"), "")), List.of(UPGRADE), PROCESSES, PROCESSES, Map.of(), true);
    ChaosReport r = ChaosReport.judge(run);
    assertThat(r.failures()).containsExactly("chaos/client-1 h2load-h2: 16 of 120 requests not 2xx",
        "chaos/client-1: 2026-01-01T00:00:40Z h2load-h2 requests: 40 total, 26 started");
    assertThat(String.join("\n", r.table())).contains("h2load-h2: requests / not 2xx (failed, errored, timeout) | "
        + "120 / 16 (16, 16, 0)");
  }

  private static Run run(JsonObject figures, List<String> failureLines, Map<String, Long> leaks, boolean overlap) {
    return new Run(120, List.of(new ClientResult("chaos/client-1", figures, failureLines, "")), List.of(UPGRADE),
        PROCESSES, PROCESSES, leaks, overlap);
  }

  private static JsonObject figures(String json) {
    return JsonParser.parseString(json).getAsJsonObject();
  }
}
