package dev.trellis.telemetry.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class PrometheusFamiliesTest {

  @Test
  void familiesCarryTheirTypeAndTheLabelNamesOfTheirSamples() {
    String text = """
        # HELP a_total refusals
        # TYPE a_total counter
        a_total{listener="hbone",reason="no_sni"} 3.0
        a_total{listener="in\\"x",reason="not_tls"} 1.0
        # TYPE d_seconds histogram
        d_seconds_bucket{m="GET",le="+Inf"} 1
        d_seconds_count{m="GET"} 1
        d_seconds_sum{m="GET"} 0.5
        # TYPE up gauge
        up 1.0
        """;
    assertThat(PrometheusFamilies.describe(text)).containsExactly("a_total counter listener,reason",
        "d_seconds histogram m", "up gauge -");
  }

  @Test
  void aSampleAwayFromItsFamilyOrWithoutATypeIsRefused() {
    assertThatThrownBy(() -> PrometheusFamilies.parse("""
        # TYPE a gauge
        # TYPE b gauge
        a 1
        """)).isInstanceOf(AssertionError.class).hasMessageContaining("outside its family's block").hasMessageEndingWith(": a 1");
    assertThatThrownBy(() -> PrometheusFamilies.parse("x 1\n")).isInstanceOf(AssertionError.class);
    assertThatThrownBy(() -> PrometheusFamilies.parse("# TYPE a gauge\n# TYPE a gauge\n"))
        .hasMessageContaining("a second TYPE line");
    assertThatThrownBy(() -> PrometheusFamilies.parse("# TYPE a gauge\na{b=c} 1\n"))
        .hasMessageContaining("malformed labels");
  }
}
