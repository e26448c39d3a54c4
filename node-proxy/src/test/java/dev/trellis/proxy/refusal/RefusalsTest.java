package dev.trellis.proxy.refusal;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class RefusalsTest {

  private final AtomicLong ticker = new AtomicLong(5_000_000_000L);
  private final List<String> lines = new ArrayList<>();
  private final Refusals refusals = new Refusals(ticker::get, Duration.ofSeconds(10), lines::add);

  @Test
  void aHundredRefusalsOfOneKindWithinTheWindowAreOneLineAndAHundredCounts() {
    for (int i = 0; i < 100; i++) {
      refusals.refuse(Refusal.Listener.HBONE, Refusal.NO_SNI, "127.0.0.1:" + (40000 + i), "ClientHello without SNI");
    }
    assertThat(lines).containsExactly("[hbone] refused 127.0.0.1:40000: no_sni: ClientHello without SNI");
    assertThat(refusals.count(Refusal.Listener.HBONE, Refusal.NO_SNI)).isEqualTo(100);
    assertThat(refusals.counts()).isEqualTo(Map.of("hbone", Map.of("no_sni", 100L)));
  }

  @Test
  void theNextLineAfterTheWindowSaysHowManyWentUnlogged() {
    for (int i = 0; i < 100; i++) {
      refusals.refuse(Refusal.Listener.HBONE, Refusal.NO_SNI, null, "x");
    }
    ticker.addAndGet(Duration.ofSeconds(10).toNanos() - 1);
    refusals.refuse(Refusal.Listener.HBONE, Refusal.NO_SNI, null, "x");
    assertThat(lines).as("still inside the window").hasSize(1);
    ticker.addAndGet(1);
    refusals.refuse(Refusal.Listener.HBONE, Refusal.NO_SNI, null, "y");
    assertThat(lines).hasSize(2);
    assertThat(lines.get(1)).isEqualTo("[hbone] refused: no_sni: y (100 more no_sni refusals since the last such line "
        + "were counted, not logged)");
    assertThat(refusals.count(Refusal.Listener.HBONE, Refusal.NO_SNI)).isEqualTo(102);
  }

  @Test
  void eachListenerAndReasonHasItsOwnWindow() {
    refusals.refuse(Refusal.Listener.HBONE, Refusal.NOT_TLS, null, "a");
    refusals.refuse(Refusal.Listener.HBONE, Refusal.NO_SNI, null, "b");
    refusals.refuse(Refusal.Listener.INBOUND, Refusal.NO_WORKLOAD, null, "c");
    refusals.refuse(Refusal.Listener.OUTBOUND, Refusal.NO_WORKLOAD, null, "d");
    refusals.refuse(Refusal.Listener.HBONE, Refusal.NOT_TLS, null, "e");
    assertThat(lines).hasSize(4).noneMatch(l -> l.endsWith(": e"));
    assertThat(refusals.counts()).isEqualTo(Map.of("hbone", Map.of("not_tls", 2L, "no_sni", 1L),
        "inbound", Map.of("no_workload", 1L), "outbound", Map.of("no_workload", 1L)));
  }

  @Test
  void aDetailIsOneShortLineWhateverThePeerSent() {
    String hostile = "line one\nline two\r\u0000" + "A".repeat(10_000);
    refusals.refuse(Refusal.Listener.OUTBOUND, Refusal.MALFORMED, null, hostile);
    assertThat(lines).hasSize(1);
    assertThat(lines.getFirst()).doesNotContain("\n", "\r", "\u0000").startsWith("[outbound] refused: malformed: line one line two")
        .endsWith("...").hasSizeLessThan(Refusals.MAX_DETAIL + 60);
  }

  @Test
  void aNegativeWindowIsRefusedNamingIt() {
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> new Refusals(ticker::get, Duration.ofSeconds(-1),
        lines::add)).hasMessageContaining("window: PT-1S (expected: >= 0)");
  }
}
