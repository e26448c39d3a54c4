package dev.trellis.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class StartupWarmupTest {

  @Test
  void bothPartsFinishSoTheStartThatAwaitsThemGoesOn() {
    StartupWarmup warmup = StartupWarmup.start();
    assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
      warmup.awaitXds();
      warmup.awaitCrypto();
    });
  }

  @Test
  void aPartThatFailsStillCompletesItsFutureRatherThanBlockingTheStart() throws Exception {
    var done = StartupWarmup.run("trellis-warmup-test", () -> {
      throw new IllegalStateException("no BoringSSL here");
    });
    assertThat(done.get(10, TimeUnit.SECONDS)).isNull();
  }
}
