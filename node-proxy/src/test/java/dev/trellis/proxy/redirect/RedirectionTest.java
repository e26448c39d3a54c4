package dev.trellis.proxy.redirect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.proxy.redirect.Redirection.Mode;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class RedirectionTest {

  @Test
  void autoChoosesEbpfWhereItLoadsAndNftablesOtherwise() {
    AtomicInteger probes = new AtomicInteger();
    assertThat(Redirection.choose(Mode.AUTO, "10.10.0.1", () -> {
      probes.incrementAndGet();
      return Optional.empty();
    })).isEqualTo(Mode.EBPF);
    assertThat(Redirection.choose(Mode.AUTO, "10.10.0.1", () -> Optional.of("libbpf.so.1 cannot be loaded")))
        .isEqualTo(Mode.NFTABLES);
    assertThat(Redirection.choose(Mode.AUTO, null, () -> {
      probes.incrementAndGet();
      return Optional.empty();
    })).as("nothing to redirect to").isEqualTo(Mode.NFTABLES);
    assertThat(probes).as("no probe without an address").hasValue(1);
  }

  @Test
  void aForcedModeIsTakenAsIsWithoutProbing() {
    assertThat(Redirection.choose(Mode.NFTABLES, "10.10.0.1", () -> {
      throw new AssertionError("probed");
    })).isEqualTo(Mode.NFTABLES);
    assertThat(Redirection.choose(Mode.EBPF, "10.10.0.1", () -> {
      throw new AssertionError("probed");
    })).isEqualTo(Mode.EBPF);
  }

  @Test
  void theModeFlagNamesTheChoicesWhenWrong() {
    assertThat(Mode.parse("eBPF")).isEqualTo(Mode.EBPF);
    assertThatThrownBy(() -> Mode.parse("iptables")).hasMessage("'iptables' (expected: auto, ebpf or nftables)");
  }
}
